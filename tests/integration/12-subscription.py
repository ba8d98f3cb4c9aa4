#!/usr/bin/python3
"""12-subscription: RFC 6121 §3 presence subscriptions over the wire between
two local users: request, approve, deny, cancel, unsubscribe, mutual,
pre-approval (§3.4), pending requests kept while offline and across a
server restart, roster removal ending subscriptions (§2.5.2), and requests
to a user that does not exist."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, run_tests  # noqa: E402
from roster_peer import Peer, is_presence, is_push, item_state, push_item, show, users  # noqa: E402


async def pair(srv):
    (alice, apw), (bob, bpw) = await users(srv, 2)
    a = await Peer.login(srv, alice, apw, "home")
    await a.online()
    b = await Peer.login(srv, bob, bpw, "pc")
    await b.online()
    return a, b


async def expect_push(p, jid, state, what=None):
    """Wait for a push of `jid` with (subscription, ask, approved) == state."""
    push = await p.wait(lambda s: is_push(s, jid) and item_state(push_item(s)) == state,
                        what=what or "push of %s as %s" % (jid, state))
    return push_item(push)


async def roster_state(p, jid):
    return item_state((await p.roster()).get(jid))


async def subscribe_approved(a, b, a_after="to", b_after="from"):
    """a subscribes to b, b approves: a gains 'to', b gains 'from'
    (a_after / b_after: the resulting subscriptions)."""
    a.presence(to=b.bare, type="subscribe")
    await b.wait(lambda s: is_presence(s, frm=a.bare, type="subscribe"))
    b.presence(to=a.bare, type="subscribed")
    await a.wait(lambda s: is_presence(s, frm=b.bare, type="subscribed"))
    await expect_push(a, b.bare, (a_after, None, None))
    await expect_push(b, a.bare, (b_after, None, None))


async def test_request_and_approve(srv):
    a, b = await pair(srv)
    a.presence(to=b.bare, type="subscribe")
    # §3.1.2: the user's roster gets the item with ask='subscribe'
    await expect_push(a, b.bare, ("none", "subscribe", None))
    # §3.1.3: delivered to the contact, stamped with the user's bare JID
    req = await b.wait(lambda s: is_presence(s, type="subscribe"), what="subscription request")
    if req.get("from") != a.bare:
        raise TestFailure("request from %s, expected the bare JID %s" % (req.get("from"), a.bare))
    # the contact's roster does not list the requester yet
    if a.bare in await b.roster():
        raise TestFailure("pending requester listed in the contact's roster")
    b.presence(to=a.bare, type="subscribed")
    # §3.1.5: the contact's roster now has the user with 'from'
    await expect_push(b, a.bare, ("from", None, None))
    # §3.1.6: the user gets 'subscribed', a push with 'to', then presence
    ok = await a.wait(lambda s: is_presence(s, type="subscribed"))
    if ok.get("from") != b.bare:
        raise TestFailure("subscribed from %s" % ok.get("from"))
    await expect_push(a, b.bare, ("to", None, None))
    await a.wait(lambda s: is_presence(s, frm=b.jid), what="the contact's presence after approval")
    if await roster_state(a, b.bare) != ("to", None, None):
        raise TestFailure("user's roster: %s" % (await roster_state(a, b.bare),))
    if await roster_state(b, a.bare) != ("from", None, None):
        raise TestFailure("contact's roster: %s" % (await roster_state(b, a.bare),))


async def test_mutual(srv):
    a, b = await pair(srv)
    await subscribe_approved(a, b)
    b.presence(to=a.bare, type="subscribe")
    await expect_push(b, a.bare, ("from", "subscribe", None))
    await a.wait(lambda s: is_presence(s, frm=b.bare, type="subscribe"))
    a.presence(to=b.bare, type="subscribed")
    await expect_push(a, b.bare, ("both", None, None))
    await expect_push(b, a.bare, ("both", None, None))
    await b.wait(lambda s: is_presence(s, frm=a.jid), what="presence after mutual approval")
    # presence now flows both ways
    a.presence(inner="<show>away</show>")
    st = await b.wait(lambda s: is_presence(s, frm=a.jid) and s.find("{jabber:client}show") is not None)
    if st.find("{jabber:client}show").text != "away":
        raise TestFailure("update: %s" % show(st))


async def test_deny(srv):
    a, b = await pair(srv)
    a.presence(to=b.bare, type="subscribe")
    await b.wait(lambda s: is_presence(s, frm=a.bare, type="subscribe"))
    b.presence(to=a.bare, type="unsubscribed")
    # §3.2.3 / A.3.4: "None + Pending Out" -> "None"
    await a.wait(lambda s: is_presence(s, frm=b.bare, type="unsubscribed"))
    await expect_push(a, b.bare, ("none", None, None))
    if a.bare in await b.roster():
        raise TestFailure("denied requester left in the contact's roster")
    await b.none(lambda s: is_push(s, a.bare), wait=0.5, what="push of an unlisted requester")


async def test_cancel(srv):
    """§3.2: the contact cancels the user's subscription."""
    a, b = await pair(srv)
    await subscribe_approved(a, b)
    a.forget()
    b.presence(to=a.bare, type="unsubscribed")
    await expect_push(b, a.bare, ("none", None, None))
    # the user sees the contact go unavailable, then the cancellation
    await a.wait(lambda s: is_presence(s, frm=b.jid, type="unavailable"))
    await a.wait(lambda s: is_presence(s, frm=b.bare, type="unsubscribed"))
    await expect_push(a, b.bare, ("none", None, None))
    # no more presence from b to a
    a.forget()
    b.presence(inner="<status>hidden</status>")
    await a.none(lambda s: is_presence(s, frm=b.jid), wait=1, what="presence after cancel")


async def test_unsubscribe(srv):
    """§3.3: the user unsubscribes from the contact's presence."""
    a, b = await pair(srv)
    await subscribe_approved(a, b)
    a.presence(to=b.bare, type="unsubscribe")
    await expect_push(a, b.bare, ("none", None, None))
    await b.wait(lambda s: is_presence(s, frm=a.bare, type="unsubscribe"))
    await expect_push(b, a.bare, ("none", None, None))
    # §3.3.3: the contact's server sends unavailable from its resources
    await a.wait(lambda s: is_presence(s, frm=b.jid, type="unavailable"))


async def test_pending_redelivered_at_login_and_after_restart(srv):
    (alice, apw), (bob, bpw) = await users(srv, 2)
    a = await Peer.login(srv, alice, apw, "home")
    await a.online()
    a.presence(to=bob, type="subscribe")  # bob is offline
    await expect_push(a, bob, ("none", "subscribe", None))
    a.close()
    srv.restart()
    # the user's pending-out survived
    a = await Peer.login(srv, alice, apw, "home")
    if await roster_state(a, bob) != ("none", "subscribe", None):
        raise TestFailure("pending out after restart: %s" % (await roster_state(a, bob),))
    await a.online()
    # the contact gets the request at login, each time until it answers
    for _ in range(2):
        b = await Peer.login(srv, bob, bpw, "pc")
        if alice in await b.roster():
            raise TestFailure("pending requester listed")
        b.presence()
        await b.wait(lambda s: is_presence(s, frm=alice, type="subscribe"), what="redelivered request")
        b.close()
    b = await Peer.login(srv, bob, bpw, "pc")
    await b.online()
    await b.wait(lambda s: is_presence(s, frm=alice, type="subscribe"))
    b.presence(to=alice, type="subscribed")
    await a.wait(lambda s: is_presence(s, frm=bob, type="subscribed"))
    await expect_push(a, bob, ("to", None, None))
    b.close()
    # answered: not delivered again
    b = await Peer.login(srv, bob, bpw, "pc")
    await b.online()
    await b.none(lambda s: is_presence(s, type="subscribe"), wait=1, what="answered request redelivered")


async def test_request_waits_for_interested_resource(srv):
    """A request is delivered to available resources that asked for the
    roster; one arriving while none is, is delivered at the next login."""
    (alice, apw), (bob, bpw) = await users(srv, 2)
    a = await Peer.login(srv, alice, apw, "home")
    await a.online()
    b = await Peer.login(srv, bob, bpw, "bare")  # bound, no roster, no presence
    a.presence(to=bob, type="subscribe")
    await b.none(lambda s: is_presence(s, type="subscribe"), wait=1,
                 what="request delivered to a resource without presence")
    await b.online()
    await b.wait(lambda s: is_presence(s, frm=alice, type="subscribe"))


async def test_preapproval(srv):
    """§3.4: the contact approves before being asked."""
    a, b = await pair(srv)
    b.presence(to=a.bare, type="subscribed")
    item = await expect_push(b, a.bare, ("none", None, "true"), what="pre-approval push")
    await a.none(lambda s: is_presence(s, type="subscribed"), wait=0.5,
                 what="pre-approval routed to the user")
    if item_state((await b.roster()).get(a.bare)) != ("none", None, "true"):
        raise TestFailure("pre-approval not in roster: %s" % show(item))
    a.presence(to=b.bare, type="subscribe")
    await a.wait(lambda s: is_presence(s, frm=b.bare, type="subscribed"), what="automatic approval")
    await expect_push(a, b.bare, ("to", None, None))
    await a.wait(lambda s: is_presence(s, frm=b.jid), what="presence after automatic approval")
    await expect_push(b, a.bare, ("from", None, None))
    await b.none(lambda s: is_presence(s, type="subscribe"), wait=0.5,
                 what="pre-approved request delivered")


async def test_preapproval_cancelled(srv):
    a, b = await pair(srv)
    b.presence(to=a.bare, type="subscribed")
    await expect_push(b, a.bare, ("none", None, "true"))
    b.presence(to=a.bare, type="unsubscribed")
    await expect_push(b, a.bare, ("none", None, None), what="push after cancelling the pre-approval")
    await a.none(lambda s: is_presence(s, type="unsubscribed"), wait=0.5,
                 what="pre-approval cancellation routed")
    a.presence(to=b.bare, type="subscribe")
    await b.wait(lambda s: is_presence(s, frm=a.bare, type="subscribe"), what="normal request")


async def test_subscribe_to_missing_user(srv):
    """§3.1.3: the contact does not exist: 'unsubscribed' comes back."""
    (alice, apw), = await users(srv, 1)
    a = await Peer.login(srv, alice, apw, "home")
    await a.online()
    ghost = "ghost-nobody@" + srv.domain
    a.presence(to=ghost, type="subscribe")
    await a.wait(lambda s: is_presence(s, frm=ghost, type="unsubscribed"))
    await expect_push(a, ghost, ("none", None, None))


async def test_already_subscribed_auto_reply(srv):
    """A.3.1 "From": the contact's server answers for the contact."""
    a, b = await pair(srv)
    await subscribe_approved(a, b)
    b.forget()
    a.forget()
    a.presence(to=b.bare, type="subscribe")
    # b's server answers 'subscribed' for b and sends b's presence again;
    # a's server ignores the 'subscribed' (A.3.3 "To": no state change)
    await a.wait(lambda s: is_presence(s, frm=b.jid), what="presence after the automatic reply")
    await b.none(lambda s: is_presence(s, type="subscribe"), wait=0.5,
                 what="request from an already subscribed contact delivered")
    await a.none(lambda s: is_push(s, b.bare), wait=0, what="push without a state change")
    if await roster_state(a, b.bare) != ("to", None, None):
        raise TestFailure("state changed: %s" % (await roster_state(a, b.bare),))


async def test_full_jid_treated_as_bare(srv):
    """§3.1.2: a subscription to a full JID is to the bare JID."""
    a, b = await pair(srv)
    a.presence(to=b.jid, type="subscribe")
    await expect_push(a, b.bare, ("none", "subscribe", None))
    req = await b.wait(lambda s: is_presence(s, type="subscribe"))
    if req.get("from") != a.bare:
        raise TestFailure("request from %s" % req.get("from"))


async def test_remove_item_ends_subscriptions(srv):
    """§2.5.2: removing a 'both' item unsubscribes and cancels."""
    a, b = await pair(srv)
    await subscribe_approved(a, b)
    await subscribe_approved(b, a, "both", "both")
    b.forget()
    await a.roster_set(b.bare, remove=True)
    await a.wait(lambda s: is_push(s, b.bare) and push_item(s).get("subscription") == "remove")
    await b.wait(lambda s: is_presence(s, frm=a.jid, type="unavailable"))
    await b.wait(lambda s: is_presence(s, frm=a.bare, type="unsubscribe"))
    await b.wait(lambda s: is_presence(s, frm=a.bare, type="unsubscribed"))
    await expect_push(b, a.bare, ("none", None, None))
    if await roster_state(b, a.bare) != ("none", None, None):
        raise TestFailure("contact's item: %s" % (await roster_state(b, a.bare),))


async def test_state_survives_restart(srv):
    (alice, apw), (bob, bpw) = await users(srv, 2)
    a = await Peer.login(srv, alice, apw, "home")
    await a.online()
    b = await Peer.login(srv, bob, bpw, "pc")
    await b.online()
    await subscribe_approved(a, b)
    await subscribe_approved(b, a, "both", "both")
    # a pending request from a third user, and a pre-approval
    (carol, cpw), = await users(srv, 1)
    c = await Peer.login(srv, carol, cpw, "x")
    await c.online()
    c.presence(to=alice, type="subscribe")
    await a.wait(lambda s: is_presence(s, frm=carol, type="subscribe"))
    b.presence(to=carol, type="subscribed")
    await expect_push(b, carol, ("none", None, "true"))
    for p in (a, b, c):
        p.close()
    srv.restart()
    a = await Peer.login(srv, alice, apw, "home")
    ra = await a.roster()
    if item_state(ra.get(bob)) != ("both", None, None) or carol in ra:
        raise TestFailure("alice after restart: %s" % {k: item_state(v) for k, v in ra.items()})
    b = await Peer.login(srv, bob, bpw, "pc")
    rb = await b.roster()
    if item_state(rb.get(alice)) != ("both", None, None) or \
            item_state(rb.get(carol)) != ("none", None, "true"):
        raise TestFailure("bob after restart: %s" % {k: item_state(v) for k, v in rb.items()})
    b.presence()
    await b.wait(lambda s: is_presence(s, frm=b.jid))
    a.presence()
    # the pending request is redelivered, and presence flows through probes
    await a.wait(lambda s: is_presence(s, frm=carol, type="subscribe"))
    await a.wait(lambda s: is_presence(s, frm=b.jid), what="bob's presence (probe answer)")
    await b.wait(lambda s: is_presence(s, frm=a.jid), what="alice's initial presence")
    # the pre-approval still works
    c = await Peer.login(srv, carol, cpw, "x")
    await c.online()
    c.presence(to=bob, type="subscribe")
    await c.wait(lambda s: is_presence(s, frm=bob, type="subscribed"))


async def test_huge_request_kept_unlisted(srv):
    """A request too large to keep whole is kept as a bare request: still
    unlisted and redelivered after a restart."""
    (alice, apw), (bob, bpw) = await users(srv, 2)
    a = await Peer.login(srv, alice, apw, "home")
    await a.online()
    a.presence(to=bob, type="subscribe", inner="<status>%s</status>" % ("long " * 2000))
    await expect_push(a, bob, ("none", "subscribe", None))
    a.close()
    srv.restart()
    b = await Peer.login(srv, bob, bpw, "pc")
    if alice in await b.roster():
        raise TestFailure("large pending request listed after restart")
    b.presence()
    await b.wait(lambda s: is_presence(s, frm=alice, type="subscribe"), what="redelivered request")


async def test_pending_limit():
    """modules.roster.max_pending bounds the requests kept for a user."""
    srv2 = Server(config={"modules.roster.max_pending": 2})
    srv2.start()
    try:
        (target, tpw), = await users(srv2, 1)
        senders = await users(srv2, 3)
        for bare, pw in senders:
            p = await Peer.login(srv2, bare, pw, "x")
            await p.roster()
            p.presence(to=target, type="subscribe")
            await expect_push(p, target, ("none", "subscribe", None))
            p.close()
        t = await Peer.login(srv2, target, tpw, "t")
        await t.online()
        got = set()
        for _ in range(2):
            st = await t.wait(lambda s: is_presence(s, type="subscribe"))
            got.add(st.get("from"))
        await t.none(lambda s: is_presence(s, type="subscribe") and s.get("from") not in got,
                     wait=1, what="request beyond max_pending kept")
        if got != {senders[0][0], senders[1][0]}:
            raise TestFailure("kept requests: %s" % got)
        srv2.stop()
    finally:
        srv2.cleanup()


async def test_slixmpp_clients_become_mutual(srv):
    """Two real clients (slixmpp, which approves and subscribes back by
    default) end with 'both' in their own rosters, from the pushes alone."""
    import asyncio
    import harness
    (alice, apw), (bob, bpw) = await users(srv, 2)
    ca = await harness.connect(srv, alice + "/sx", apw)
    cb = await harness.connect(srv, bob + "/sx", bpw)
    ca.send_presence_subscription(pto=bob)
    deadline = asyncio.get_running_loop().time() + harness.scaled(10)
    while True:
        sa = ca.client_roster[bob]["subscription"] if bob in ca.client_roster else None
        sb = cb.client_roster[alice]["subscription"] if alice in cb.client_roster else None
        if sa == "both" and sb == "both":
            break
        if asyncio.get_running_loop().time() > deadline:
            raise TestFailure("slixmpp rosters: alice sees %s, bob sees %s" % (sa, sb))
        await asyncio.sleep(0.1)
    # and each sees the other online
    await harness.wait_stanza(ca, lambda s: s.name == "presence" and str(s["from"]) == bob + "/sx"
                              and s["type"] == "available")


if __name__ == "__main__":
    run_tests([test_request_and_approve, test_mutual, test_deny, test_cancel, test_unsubscribe,
               test_pending_redelivered_at_login_and_after_restart,
               test_request_waits_for_interested_resource, test_preapproval,
               test_preapproval_cancelled, test_subscribe_to_missing_user,
               test_already_subscribed_auto_reply, test_full_jid_treated_as_bare,
               test_remove_item_ends_subscriptions, test_state_survives_restart,
               test_huge_request_kept_unlisted, test_pending_limit,
               test_slixmpp_clients_become_mutual],
              srv=Server(), timeout=120)
