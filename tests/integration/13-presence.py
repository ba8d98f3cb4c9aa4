#!/usr/bin/python3
"""13-presence: RFC 6121 §4: initial presence and its broadcast, probes on
login, updates, unavailable (sent or on session close), directed presence
(§4.6) and its unavailable at logout, several resources of one account,
priorities, and who must not receive presence."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, run_tests  # noqa: E402
from roster_peer import C, Peer, is_presence, is_push, push_item, show, users  # noqa: E402


async def befriend(a, b):
    """Mutual subscription between two online peers."""
    for x, y in ((a, b), (b, a)):
        x.presence(to=y.bare, type="subscribe")
        await y.wait(lambda s: is_presence(s, frm=x.bare, type="subscribe"))
        y.presence(to=x.bare, type="subscribed")
        await x.wait(lambda s: is_presence(s, frm=y.bare, type="subscribed"))
    await a.wait(lambda s: is_presence(s, frm=b.jid))
    await b.wait(lambda s: is_presence(s, frm=a.jid))
    for x, y in ((a, b), (b, a)):
        await x.wait(lambda s: is_push(s, y.bare) and push_item(s).get("subscription") == "both")


async def friends(srv):
    """Two users subscribed both ways, both online; returns (a, b, creds)."""
    (alice, apw), (bob, bpw) = await users(srv, 2)
    a = await Peer.login(srv, alice, apw, "home")
    await a.online()
    b = await Peer.login(srv, bob, bpw, "pc")
    await b.online()
    await befriend(a, b)
    a.forget()
    b.forget()
    return a, b, (alice, apw, bob, bpw)


async def test_initial_presence_broadcast_and_probe(srv):
    a, b, (alice, apw, bob, bpw) = await friends(srv)
    a.close()
    await b.wait(lambda s: is_presence(s, frm=a.jid, type="unavailable"))
    a = await Peer.login(srv, alice, apw, "laptop")
    await a.roster()
    a.presence(inner="<show>chat</show><status>hello</status><priority>5</priority>")
    # §4.2.2: broadcast to the contact, with the full JID
    st = await b.wait(lambda s: is_presence(s, frm=a.jid), what="alice's initial presence")
    if st.findtext(C("status")) != "hello" or st.findtext(C("show")) != "chat" or \
            st.findtext(C("priority")) != "5":
        raise TestFailure("presence content: %s" % show(st))
    if st.get("to") not in (b.bare, b.jid):
        raise TestFailure("presence to %s" % st.get("to"))
    # §4.2.2: echoed to the sender; §4.3: the probe brings bob's presence
    await a.wait(lambda s: is_presence(s, frm=a.jid), what="own presence")
    await a.wait(lambda s: is_presence(s, frm=b.jid), what="probe answer from bob's resource")


async def test_update_and_unavailable(srv):
    a, b, _ = await friends(srv)
    a.presence(inner="<show>dnd</show><status>busy</status>")
    st = await b.wait(lambda s: is_presence(s, frm=a.jid) and s.findtext(C("show")) == "dnd")
    if st.findtext(C("status")) != "busy":
        raise TestFailure("update: %s" % show(st))
    # §4.5: unavailable with a status
    a.presence(type="unavailable", inner="<status>gone fishing</status>")
    st = await b.wait(lambda s: is_presence(s, frm=a.jid, type="unavailable"))
    if st.findtext(C("status")) != "gone fishing":
        raise TestFailure("unavailable status lost: %s" % show(st))


async def test_unavailable_on_close(srv):
    """§4.5.2 / HOOK_RESOURCE_UNBOUND: a closed session goes unavailable."""
    a, b, _ = await friends(srv)
    a.close()
    await b.wait(lambda s: is_presence(s, frm=a.jid, type="unavailable"))


async def test_unavailable_on_abrupt_close(srv):
    a, b, _ = await friends(srv)
    a.raw.sock.close()  # no </stream:stream>
    await b.wait(lambda s: is_presence(s, frm=a.jid, type="unavailable"))


async def test_multiple_resources(srv):
    a, b, (alice, apw, _, _) = await friends(srv)
    a2 = await Peer.login(srv, alice, apw, "phone")
    await a2.roster()
    a2.presence(inner="<priority>-1</priority>")
    # the other resource and the contact see it; the new resource learns
    # the presence of the other resource and of the contact
    await a.wait(lambda s: is_presence(s, frm=a2.jid), what="presence of the second resource")
    await b.wait(lambda s: is_presence(s, frm=a2.jid), what="contact sees the second resource")
    await a2.wait(lambda s: is_presence(s, frm=a.jid), what="presence of the first resource")
    await a2.wait(lambda s: is_presence(s, frm=b.jid), what="contact's presence")
    # the contact's updates reach both resources
    b.presence(inner="<status>both of you</status>")
    for p in (a, a2):
        await p.wait(lambda s: is_presence(s, frm=b.jid) and s.findtext(C("status")) == "both of you")
    # one goes away: the other and the contact see it
    a2.close()
    await a.wait(lambda s: is_presence(s, frm=a2.jid, type="unavailable"))
    await b.wait(lambda s: is_presence(s, frm=a2.jid, type="unavailable"))


async def test_not_broadcast_without_subscription(srv):
    a, b, _ = await friends(srv)
    (carol, cpw), = await users(srv, 1)
    c = await Peer.login(srv, carol, cpw, "c")
    await c.online()
    a.presence(inner="<status>secret</status>")
    await b.wait(lambda s: is_presence(s, frm=a.jid) and s.findtext(C("status")) == "secret")
    await c.none(lambda s: s.tag == C("presence") and s.get("from", "").startswith(a.bare),
                 wait=1, what="presence to a non-subscriber")


async def test_no_presence_before_initial(srv):
    """A resource that has not sent initial presence gets no broadcasts."""
    a, b, (alice, apw, _, _) = await friends(srv)
    quiet = await Peer.login(srv, alice, apw, "quiet")
    await quiet.roster()
    b.presence(inner="<status>to the available only</status>")
    await a.wait(lambda s: is_presence(s, frm=b.jid) and s.findtext(C("status")) == "to the available only")
    await quiet.none(lambda s: s.tag == C("presence"), wait=1, what="presence to a non-available resource")


async def test_directed_presence(srv):
    """§4.6: directed presence reaches a non-contact, who gets unavailable
    presence when the sender goes away."""
    a, b, _ = await friends(srv)
    (carol, cpw), = await users(srv, 1)
    c = await Peer.login(srv, carol, cpw, "c")
    await c.online()
    a.presence(to=c.jid, inner="<status>just for you</status>")
    st = await c.wait(lambda s: is_presence(s, frm=a.jid), what="directed presence")
    if st.findtext(C("status")) != "just for you":
        raise TestFailure("directed: %s" % show(st))
    # not a broadcast: bob does not see it
    await b.none(lambda s: s.tag == C("presence") and s.findtext(C("status")) == "just for you",
                 wait=0.5, what="directed presence broadcast")
    a.close()
    await c.wait(lambda s: is_presence(s, frm=a.jid, type="unavailable"), what="unavailable to the directed recipient")
    await b.wait(lambda s: is_presence(s, frm=a.jid, type="unavailable"))


async def test_directed_unavailable_forgets_recipient(srv):
    a, b, _ = await friends(srv)
    (carol, cpw), = await users(srv, 1)
    c = await Peer.login(srv, carol, cpw, "c")
    await c.online()
    a.presence(to=carol)
    await c.wait(lambda s: is_presence(s, frm=a.jid))
    a.presence(to=carol, type="unavailable")
    await c.wait(lambda s: is_presence(s, frm=a.jid, type="unavailable"))
    c.forget()
    a.close()
    await b.wait(lambda s: is_presence(s, frm=a.jid, type="unavailable"))
    await c.none(lambda s: is_presence(s, frm=a.jid, type="unavailable"), wait=0.5,
                 what="second unavailable to a forgotten directed recipient")


async def test_presence_to_full_jid(srv):
    a, b, (alice, apw, _, _) = await friends(srv)
    a2 = await Peer.login(srv, alice, apw, "second")
    await a2.online()
    b.forget()
    # directed to one resource only
    b.presence(to=a2.jid, inner="<status>only second</status>")
    await a2.wait(lambda s: is_presence(s, frm=b.jid) and s.findtext(C("status")) == "only second")
    await a.none(lambda s: s.findtext(C("status")) == "only second", wait=0.5,
                 what="full-JID presence delivered to another resource")


async def test_probe_answer_needs_subscription(srv):
    """A user without a subscription gets no presence when logging in."""
    a, b, _ = await friends(srv)
    (carol, cpw), = await users(srv, 1)
    c = await Peer.login(srv, carol, cpw, "c")
    await c.roster_set(a.bare, name="wishful")
    await c.online()
    await c.none(lambda s: s.tag == C("presence") and s.get("from", "").startswith(a.bare),
                 wait=1, what="presence without subscription")


async def test_priority_kept_in_broadcast(srv):
    a, b, _ = await friends(srv)
    for prio in ("127", "-128", "0"):
        a.presence(inner="<priority>%s</priority>" % prio)
        await b.wait(lambda s: is_presence(s, frm=a.jid) and s.findtext(C("priority")) == prio,
                     what="presence with priority %s" % prio)


async def test_no_push_from_presence(srv):
    """Plain presence never changes the roster."""
    a, b, _ = await friends(srv)
    a.presence(inner="<status>x</status>")
    await b.wait(lambda s: is_presence(s, frm=a.jid))
    await a.none(lambda s: is_push(s), wait=0.5, what="roster push after presence")


async def test_blocked_contact_gets_no_broadcast(srv):
    """XEP-0191 §5.3: broadcasts and probes skip a blocked contact."""
    a, b, (alice, apw, _, _) = await friends(srv)
    reply = await a.iq("<block xmlns='urn:xmpp:blocking'><item jid='%s'/></block>" % b.bare,
                       type="set")
    if reply.get("type") != "result":
        raise TestFailure("block: %s" % show(reply))
    # mod_blocking makes alice look unavailable to bob
    await b.wait(lambda s: is_presence(s, frm=a.jid, type="unavailable"))
    b.forget()
    a.presence(inner="<status>not for bob</status>")
    await a.wait(lambda s: is_presence(s, frm=a.jid) and s.findtext(C("status")) == "not for bob")
    a2 = await Peer.login(srv, alice, apw, "second")
    await a2.online()
    await b.none(lambda s: s.tag == C("presence") and s.get("from", "").startswith(a.bare),
                 wait=1, what="presence to a blocked contact")


if __name__ == "__main__":
    run_tests([test_initial_presence_broadcast_and_probe, test_update_and_unavailable,
               test_unavailable_on_close, test_unavailable_on_abrupt_close,
               test_multiple_resources, test_not_broadcast_without_subscription,
               test_no_presence_before_initial, test_directed_presence,
               test_directed_unavailable_forgets_recipient, test_presence_to_full_jid,
               test_probe_answer_needs_subscription, test_priority_kept_in_broadcast,
               test_no_push_from_presence, test_blocked_contact_gets_no_broadcast],
              srv=Server(), timeout=120)
