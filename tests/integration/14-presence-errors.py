#!/usr/bin/python3
"""14-presence-errors: malformed and odd presence: bad priorities and types
(bad-request), subscription stanzas without 'to', to oneself, to unknown
users and domains, client-sent probes, presence to offline resources. The
server answers or drops as RFC 6121 says and keeps running."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, run_tests  # noqa: E402
from roster_peer import C, Peer, error_condition, is_presence, is_push, show, users  # noqa: E402


async def online_user(srv, resource="r"):
    (bare, pw), = await users(srv, 1)
    p = await Peer.login(srv, bare, pw, resource)
    await p.online()
    p.forget()
    return p


def is_error(s):
    return s.tag == C("presence") and s.get("type") == "error"


async def test_bad_priority(srv):
    """RFC 6121 §4.7.2.3: an integer in -128..127."""
    p = await online_user(srv)
    for bad in ("128", "-129", "abc", "", "1.5", "99999999999999999999"):
        p.presence(inner="<priority>%s</priority>" % bad)
        err = await p.wait(is_error, what="error for priority %r" % bad)
        if error_condition(err) != "bad-request":
            raise TestFailure("priority %r: %s" % (bad, show(err)))
    # the resource is still available with its old presence
    p.presence(inner="<priority>3</priority>")
    await p.wait(lambda s: is_presence(s, frm=p.jid) and s.findtext(C("priority")) == "3")


async def test_bad_priority_not_broadcast(srv):
    a = await online_user(srv, "a")
    (bob, bpw), = await users(srv, 1)
    b = await Peer.login(srv, bob, bpw, "b")
    await b.online()
    for x, y in ((a, b), (b, a)):
        x.presence(to=y.bare, type="subscribe")
        await y.wait(lambda s: is_presence(s, frm=x.bare, type="subscribe"))
        y.presence(to=x.bare, type="subscribed")
        await x.wait(lambda s: is_presence(s, frm=y.bare, type="subscribed"))
    b.forget()
    a.presence(inner="<priority>1000</priority><status>invalid</status>")
    await a.wait(is_error)
    await b.none(lambda s: s.findtext(C("status")) == "invalid", wait=0.5,
                 what="presence with an invalid priority broadcast")


async def test_unknown_type(srv):
    p = await online_user(srv)
    p.presence(type="bogus")
    err = await p.wait(is_error)
    if error_condition(err) != "bad-request":
        raise TestFailure("unknown type: %s" % show(err))


async def test_subscription_without_to(srv):
    p = await online_user(srv)
    for t in ("subscribe", "subscribed", "unsubscribe", "unsubscribed"):
        p.presence(type=t)
        err = await p.wait(is_error, what="error for %s without 'to'" % t)
        if error_condition(err) != "bad-request":
            raise TestFailure("%s without to: %s" % (t, show(err)))


async def test_subscribe_to_self(srv):
    """The user is implicitly subscribed to itself: nothing changes."""
    p = await online_user(srv)
    p.presence(to=p.bare, type="subscribe")
    p.presence(to=p.bare, type="subscribed")
    await p.none(lambda s: is_push(s) or (s.tag == C("presence") and s.get("type") in
                                           ("subscribe", "subscribed")),
                 wait=1, what="self-subscription processed")
    if await p.roster():
        raise TestFailure("self-subscription created an item")


async def test_subscribe_to_missing_user(srv):
    p = await online_user(srv)
    ghost = "nobody-here@" + srv.domain
    p.presence(to=ghost, type="subscribe")
    await p.wait(lambda s: is_presence(s, frm=ghost, type="unsubscribed"))


async def test_presence_to_missing_user_and_domain(srv):
    p = await online_user(srv)
    p.presence(to="nobody-here@" + srv.domain)
    p.presence(to="someone@unknown-domain.invalid")
    p.presence(to="someone@unknown-domain.invalid", type="subscribe")
    # presence errors are not generated for these (RFC 6120 §10.4.3 for
    # presence; S2S is not there yet): the session keeps working
    await p.none(lambda s: s.tag == C("presence") and s.get("type") == "error", wait=1,
                 what="error for presence to an unknown destination")
    reply = await p.iq("<ping xmlns='urn:xmpp:ping'/>", to=p.bare)
    if reply.get("type") not in ("result", "error"):
        raise TestFailure("session broken: %s" % show(reply))


async def test_client_probe_ignored(srv):
    """§4.3: probes are the server's; a client's probe reveals nothing."""
    p = await online_user(srv, "a")
    (bob, bpw), = await users(srv, 1)
    b = await Peer.login(srv, bob, bpw, "b")
    await b.online()
    p.presence(to=bob, type="probe")
    await p.none(lambda s: s.tag == C("presence") and s.get("from", "").startswith(bob),
                 wait=1, what="presence revealed to a client probe")


async def test_presence_to_offline_resource(srv):
    """RFC 6121 §8.5.3.2.1: presence to a full JID with no session is ignored."""
    p = await online_user(srv, "a")
    (bob, bpw), = await users(srv, 1)
    b = await Peer.login(srv, bob, bpw, "b")
    await b.online()
    p.presence(to=bob + "/not-connected", inner="<status>lost</status>")
    await b.none(lambda s: s.findtext(C("status")) == "lost", wait=1,
                 what="presence for another resource delivered")


async def test_malformed_to(srv):
    p = await online_user(srv)
    p.send("<presence to='a@b@c' type='subscribe'/>")
    p.send("<presence to='@@'/>")
    await p.iq("<query xmlns='jabber:iq:roster'/>")  # still served
    await p.none(lambda s: is_push(s), wait=0.5, what="push after a malformed subscription")


async def test_repeated_unavailable(srv):
    """Unavailable twice, then available again: no crash, a second initial
    presence is handled as initial (probes again)."""
    p = await online_user(srv)
    p.presence(type="unavailable")
    p.presence(type="unavailable")
    p.presence()
    await p.wait(lambda s: is_presence(s, frm=p.jid))


if __name__ == "__main__":
    run_tests([test_bad_priority, test_bad_priority_not_broadcast, test_unknown_type,
               test_subscription_without_to, test_subscribe_to_self,
               test_subscribe_to_missing_user, test_presence_to_missing_user_and_domain,
               test_client_probe_ignored, test_presence_to_offline_resource, test_malformed_to,
               test_repeated_unavailable],
              srv=Server(), timeout=120)
