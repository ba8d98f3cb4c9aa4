#!/usr/bin/python3
"""10-roster-get-set: RFC 6121 §2 roster get, add, update, remove, the
§2.3.3 / §2.5.3 error cases, persistence across a restart, a large roster."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Server, TestFailure, run_tests  # noqa: E402
from roster_peer import NS_ROSTER, Peer, R, error_condition, show, users  # noqa: E402


async def login_new(srv, prefix="u"):
    (bare, pw), = await users(srv, 1, prefix)
    return await Peer.login(srv, bare, pw), bare, pw


async def test_empty_roster(srv):
    p, _, _ = await login_new(srv)
    assert await p.roster() == {}


async def test_add_update_remove(srv):
    p, bare, _ = await login_new(srv)
    contact = "friend@" + srv.domain
    await p.roster_set(contact, name="Friend", groups=["Work", "Pals"])
    item = (await p.roster())[contact]
    if item.get("name") != "Friend" or item.get("subscription") != "none" or item.get("ask"):
        raise TestFailure("added item: %s" % show(item))
    groups = sorted(g.text for g in item.findall(R("group")))
    if groups != ["Pals", "Work"]:
        raise TestFailure("groups: %s" % groups)
    # §2.4: an update replaces name and groups
    await p.roster_set(contact, name="Old friend", groups=["Home"])
    item = (await p.roster())[contact]
    if item.get("name") != "Old friend" or [g.text for g in item.findall(R("group"))] != ["Home"]:
        raise TestFailure("updated item: %s" % show(item))
    # no name, no group
    await p.roster_set(contact)
    item = (await p.roster())[contact]
    if item.get("name") is not None or item.findall(R("group")):
        raise TestFailure("cleared item: %s" % show(item))
    # §2.5 remove
    await p.roster_set(contact, remove=True)
    if contact in await p.roster():
        raise TestFailure("item still there after remove")


async def test_subscription_and_ask_ignored_in_set(srv):
    """§2.1.2: a client cannot set the subscription state."""
    p, _, _ = await login_new(srv)
    contact = "cheat@" + srv.domain
    reply = await p.iq("<query xmlns='%s'><item jid='%s' subscription='both' ask='subscribe'/></query>"
                       % (NS_ROSTER, contact), type="set")
    if reply.get("type") != "result":
        raise TestFailure("set with subscription='both': %s" % show(reply))
    item = (await p.roster())[contact]
    if item.get("subscription") != "none" or item.get("ask"):
        raise TestFailure("client-chosen state accepted: %s" % show(item))


async def test_remove_missing_item(srv):
    """§2.5.3: item-not-found."""
    p, _, _ = await login_new(srv)
    await p.roster_set("nobody@" + srv.domain, remove=True, expect="item-not-found")


async def test_error_two_items(srv):
    p, _, _ = await login_new(srv)
    reply = await p.iq("<query xmlns='%s'><item jid='a@%s'/><item jid='b@%s'/></query>"
                       % (NS_ROSTER, srv.domain, srv.domain), type="set")
    if error_condition(reply) != "bad-request":
        raise TestFailure("two items: %s" % show(reply))
    if await p.roster():
        raise TestFailure("an item was added anyway")


async def test_error_no_item(srv):
    p, _, _ = await login_new(srv)
    reply = await p.iq("<query xmlns='%s'/>" % NS_ROSTER, type="set")
    if error_condition(reply) != "bad-request":
        raise TestFailure("set without item: %s" % show(reply))


async def test_error_duplicate_groups(srv):
    p, _, _ = await login_new(srv)
    await p.roster_set("dup@" + srv.domain, groups=["G", "G"], expect="bad-request")


async def test_error_empty_group(srv):
    p, _, _ = await login_new(srv)
    await p.roster_set("empty@" + srv.domain, groups=[""], expect="not-acceptable")


async def test_error_long_name(srv):
    p, _, _ = await login_new(srv)
    await p.roster_set("long@" + srv.domain, name="x" * 2000, expect="not-acceptable")


async def test_error_bad_jid(srv):
    p, _, _ = await login_new(srv)
    for bad in ("a@b@c", "@" + srv.domain, "x" * 1100 + "@" + srv.domain):
        await p.roster_set(bad, expect="bad-request")
    reply = await p.iq("<query xmlns='%s'><item name='nojid'/></query>" % NS_ROSTER, type="set")
    if error_condition(reply) != "bad-request":
        raise TestFailure("item without jid: %s" % show(reply))


async def test_error_self(srv):
    p, bare, _ = await login_new(srv)
    await p.roster_set(bare, expect="not-allowed")


async def test_error_other_users_roster(srv):
    """§2.3.3: forbidden when the sender is not the roster's owner."""
    p, _, _ = await login_new(srv)
    _, other, _ = await login_new(srv)
    reply = await p.iq("<query xmlns='%s'><item jid='x@%s'/></query>" % (NS_ROSTER, srv.domain),
                       type="set", to=other)
    if error_condition(reply) != "forbidden":
        raise TestFailure("set on another user's roster: %s" % show(reply))
    reply = await p.iq("<query xmlns='%s'/>" % NS_ROSTER, to=other)
    if error_condition(reply) != "forbidden":
        raise TestFailure("get of another user's roster: %s" % show(reply))


async def test_explicit_to_self(srv):
    """A roster get addressed to the user's own bare JID works like one without 'to'."""
    p, bare, _ = await login_new(srv)
    await p.roster_set("x@" + srv.domain)
    reply = await p.iq("<query xmlns='%s'/>" % NS_ROSTER, to=bare)
    if reply.get("type") != "result":
        raise TestFailure("roster get to own bare JID: %s" % show(reply))


async def test_unicode_and_escaping(srv):
    p, _, _ = await login_new(srv)
    contact = "uni@" + srv.domain
    await p.roster_set(contact, name="J&amp;J &lt;Ünïcødé&gt; &apos;q&apos;", groups=["Grüppe &amp; co"])
    item = (await p.roster())[contact]
    if item.get("name") != "J&J <Ünïcødé> 'q'" or item.find(R("group")).text != "Grüppe & co":
        raise TestFailure("escaping lost: %s" % show(item))


async def test_jid_normalised(srv):
    """Items are keyed by the prepared JID: case variants are one item."""
    p, _, _ = await login_new(srv)
    await p.roster_set("MiXeD@" + srv.domain.upper(), name="one")
    await p.roster_set("mixed@" + srv.domain, name="two")
    roster = await p.roster()
    keys = [k for k in roster if k.lower().startswith("mixed@")]
    if keys != ["mixed@" + srv.domain] or roster[keys[0]].get("name") != "two":
        raise TestFailure("normalisation: %s" % {k: show(v) for k, v in roster.items()})


async def test_large_roster(srv):
    p, _, _ = await login_new(srv)
    n = 300
    for i in range(n):
        await p.roster_set("contact%04d@example.org" % i, name="C%d" % i, groups=["G%d" % (i % 7)])
    roster = await p.roster()
    if len(roster) != n:
        raise TestFailure("%d items, expected %d" % (len(roster), n))
    await p.roster_set("contact0150@example.org", remove=True)
    roster = await p.roster()
    if len(roster) != n - 1 or "contact0150@example.org" in roster:
        raise TestFailure("remove in a large roster failed")


async def test_persists_across_restart(srv):
    p, bare, pw = await login_new(srv)
    await p.roster_set("kept@" + srv.domain, name="Kept", groups=["A", "B"])
    await p.roster_set("gone@" + srv.domain)
    await p.roster_set("gone@" + srv.domain, remove=True)
    p.close()
    srv.restart()
    p = await Peer.login(srv, bare, pw)
    roster = await p.roster()
    if set(roster) != {"kept@" + srv.domain}:
        raise TestFailure("after restart: %s" % sorted(roster))
    item = roster["kept@" + srv.domain]
    if item.get("name") != "Kept" or sorted(g.text for g in item.findall(R("group"))) != ["A", "B"]:
        raise TestFailure("after restart: %s" % show(item))


async def test_versioning(srv):
    """RFC 6121 §2.6 / XEP-0237: the current version gets an empty result;
    pushes carry the new version; versions survive a restart."""
    p, bare, pw = await login_new(srv)

    async def get(ver):
        return await p.iq("<query xmlns='%s' ver='%s'/>" % (NS_ROSTER, ver))

    reply = await get("")
    v0 = reply.find(R("query")).get("ver")
    if not v0:
        raise TestFailure("no version in the result: %s" % show(reply))
    reply = await get(v0)
    if reply.get("type") != "result" or reply.find(R("query")) is not None:
        raise TestFailure("current version should give an empty result: %s" % show(reply))
    await p.roster_set("versioned@" + srv.domain, name="V")
    push = await p.wait(lambda s: s.get("type") == "set" and s.find(R("query")) is not None)
    v1 = push.find(R("query")).get("ver")
    if not v1 or v1 == v0:
        raise TestFailure("push version %r after %r" % (v1, v0))
    reply = await get(v1)
    if reply.find(R("query")) is not None:
        raise TestFailure("version of the last push should be current: %s" % show(reply))
    reply = await get(v0)
    q = reply.find(R("query"))
    if q is None or q.get("ver") != v1 or len(q.findall(R("item"))) != 1:
        raise TestFailure("old version should give the whole roster: %s" % show(reply))
    p.close()
    srv.restart()
    p = await Peer.login(srv, bare, pw)
    reply = await get(v1)
    if reply.find(R("query")) is not None:
        raise TestFailure("version not kept across a restart: %s" % show(reply))


if __name__ == "__main__":
    run_tests([test_empty_roster, test_add_update_remove, test_subscription_and_ask_ignored_in_set,
               test_remove_missing_item, test_error_two_items, test_error_no_item,
               test_error_duplicate_groups, test_error_empty_group, test_error_long_name,
               test_error_bad_jid, test_error_self, test_error_other_users_roster,
               test_explicit_to_self, test_unicode_and_escaping, test_jid_normalised,
               test_large_roster, test_persists_across_restart, test_versioning],
              srv=Server(), timeout=120)
