#!/usr/bin/python3
"""11-roster-push: RFC 6121 §2.1.6 roster pushes go to every interested
resource (one that requested the roster), the sender included, and to no
other; removal pushes subscription='remove'; subscription changes push."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, run_tests  # noqa: E402
from roster_peer import Peer, is_push, push_item, show, users  # noqa: E402


async def test_push_to_all_interested(srv):
    (bare, pw), = await users(srv, 1)
    a = await Peer.login(srv, bare, pw, "a")
    b = await Peer.login(srv, bare, pw, "b")
    c = await Peer.login(srv, bare, pw, "c")  # never asks for the roster
    await a.roster()
    await b.roster()
    contact = "pushed@" + srv.domain
    await a.roster_set(contact, name="P", groups=["G"])
    for p in (a, b):
        push = await p.wait(lambda s: is_push(s, contact), what="roster push")
        item = push_item(push)
        if item.get("name") != "P" or item.get("subscription") != "none":
            raise TestFailure("push content: %s" % show(push))
        # §2.1.6: from absent or the user's bare JID
        if push.get("from") not in (None, bare):
            raise TestFailure("push from %s" % push.get("from"))
        if push.get("to") not in (None, p.jid):
            raise TestFailure("push to %s" % push.get("to"))
        if not push.get("id"):
            raise TestFailure("push without id: %s" % show(push))
        p.send("<iq type='result' id='%s'/>" % push.get("id"))
    await c.none(lambda s: is_push(s), wait=1, what="push to a resource that never fetched the roster")


async def test_push_on_update_and_remove(srv):
    (bare, pw), = await users(srv, 1)
    a = await Peer.login(srv, bare, pw, "a")
    b = await Peer.login(srv, bare, pw, "b")
    await a.roster()
    await b.roster()
    contact = "upd@" + srv.domain
    await a.roster_set(contact, name="one")
    await b.wait(lambda s: is_push(s, contact) and push_item(s).get("name") == "one")
    await a.roster_set(contact, name="two")
    await b.wait(lambda s: is_push(s, contact) and push_item(s).get("name") == "two")
    await a.roster_set(contact, remove=True)
    for p in (a, b):
        await p.wait(lambda s: is_push(s, contact) and push_item(s).get("subscription") == "remove",
                     what="removal push")


async def test_no_push_on_error(srv):
    (bare, pw), = await users(srv, 1)
    a = await Peer.login(srv, bare, pw, "a")
    await a.roster()
    await a.roster_set("bad@" + srv.domain, groups=["x", "x"], expect="bad-request")
    await a.none(lambda s: is_push(s), wait=0.5, what="push after a failed set")


async def test_push_on_subscription_change(srv):
    """§3.1.2: the user's server pushes the item with ask='subscribe'."""
    (alice, apw), (bob, _) = await users(srv, 2)
    a1 = await Peer.login(srv, alice, apw, "one")
    a2 = await Peer.login(srv, alice, apw, "two")
    await a1.roster()
    await a2.roster()
    a1.presence(to=bob, type="subscribe")
    for p in (a1, a2):
        push = await p.wait(lambda s: is_push(s, bob), what="push after subscribe")
        item = push_item(push)
        if item.get("ask") != "subscribe" or item.get("subscription") != "none":
            raise TestFailure("push after subscribe: %s" % show(push))


async def test_interest_ends_with_session(srv):
    """A new session is not interested until it asks again."""
    (bare, pw), = await users(srv, 1)
    a = await Peer.login(srv, bare, pw, "same")
    await a.roster()
    a.close()
    a = await Peer.login(srv, bare, pw, "same")
    other = await Peer.login(srv, bare, pw, "other")
    await other.roster()
    await other.roster_set("later@" + srv.domain)
    await other.wait(lambda s: is_push(s, "later@" + srv.domain))
    await a.none(lambda s: is_push(s), wait=0.5, what="push to a not-interested session")


if __name__ == "__main__":
    run_tests([test_push_to_all_interested, test_push_on_update_and_remove, test_no_push_on_error,
               test_push_on_subscription_change, test_interest_ends_with_session],
              srv=Server())
