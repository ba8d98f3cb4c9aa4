#!/usr/bin/python3
"""53-muc-affiliations: XEP-0045 §9 and §10: banning (301, then forbidden
on entering), the ban, member, admin and owner lists and who may read and
change them, members-only rooms (registration-required for others, 321
when membership goes, 322 when the room becomes members-only), admins
promoted to moderators, and the last owner staying (conflict)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, run_tests  # noqa: E402
from muc_util import (NS_ADMIN, U, admin, codes, configure, create, item, join_error,  # noqa: E402
                      join_ok, new_room, occupant, self_presence, show)
from roster_peer import C  # noqa: E402


def listed(reply):
    return sorted((i.get("jid"), i.get("affiliation")) for i in reply.find("{%s}query" % NS_ADMIN))


async def test_ban(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    c = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice")
    await join_ok(b, room, "bob")
    await join_ok(c, room, "carol")
    # a participant may not ban
    await admin(c, room, "<item jid='%s' affiliation='outcast'/>" % b.bare, expect="forbidden")
    await admin(a, room, "<item jid='%s' affiliation='outcast'><reason>troll</reason></item>" % b.bare)
    st = await b.wait(self_presence(room, "bob", "unavailable"))
    if 301 not in codes(st) or item(st).get("affiliation") != "outcast" or \
            item(st).findtext(U("reason")) != "troll":
        raise TestFailure("§9.1 banned occupant: %s" % show(st))
    st = await c.wait(lambda s: s.get("from") == room + "/bob" and s.get("type") == "unavailable")
    if 301 not in codes(st):
        raise TestFailure("others' 301: %s" % show(st))
    # §7.2.7: a banned user cannot enter, under any nick
    if await join_error(b, room, "bobby") != "forbidden":
        raise TestFailure("a banned user got in")
    reply = await admin(a, room, "<item affiliation='outcast'/>", type="get")
    if listed(reply) != [(b.bare, "outcast")]:
        raise TestFailure("ban list: %s" % show(reply))
    # §9.2 unban
    await admin(a, room, "<item jid='%s' affiliation='none'/>" % b.bare)
    await join_ok(b, room, "bob")


async def test_members_only(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    c = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", {"muc#roomconfig_membersonly": "1"})
    if await join_error(b, room, "bob") != "registration-required":
        raise TestFailure("§7.2.6: a non-member entered a members-only room")
    await admin(a, room, "<item jid='%s' affiliation='member'/>" % b.bare)
    st = await join_ok(b, room, "bob")
    if item(st).get("affiliation") != "member":
        raise TestFailure("member's presence: %s" % show(st))
    reply = await admin(a, room, "<item affiliation='member'/>", type="get")
    if listed(reply) != [(b.bare, "member")]:
        raise TestFailure("member list: %s" % show(reply))
    # §9.4 membership revoked in a members-only room: out with 321
    await admin(a, room, "<item jid='%s' affiliation='none'/>" % b.bare)
    st = await b.wait(self_presence(room, "bob", "unavailable"))
    if 321 not in codes(st):
        raise TestFailure("321 expected: %s" % show(st))
    if await join_error(c, room, "carol") != "registration-required":
        raise TestFailure("carol got in")


async def test_becoming_members_only(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice")
    await join_ok(b, room, "bob")
    await configure(a, room, {"muc#roomconfig_membersonly": "1"})
    st = await b.wait(self_presence(room, "bob", "unavailable"))
    if 322 not in codes(st):
        raise TestFailure("322 expected: %s" % show(st))
    await a.wait(lambda s: s.tag == C("message") and 104 in codes(s), what="config change 104")


async def test_admins_and_owners(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    c = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice")
    await join_ok(b, room, "bob")
    await join_ok(c, room, "carol")
    await admin(a, room, "<item jid='%s' affiliation='admin'/>" % b.bare)
    st = await b.wait(lambda s: self_presence(room, "bob")(s) and item(s).get("affiliation") == "admin")
    if item(st).get("role") != "moderator":
        raise TestFailure("§5.1.2 an admin is a moderator: %s" % show(st))
    # an admin manages members and bans, but not admins or owners
    await admin(b, room, "<item jid='%s' affiliation='member'/>" % c.bare)
    await admin(b, room, "<item jid='%s' affiliation='outcast'/>" % a.bare, expect="forbidden")
    await admin(b, room, "<item jid='%s' affiliation='admin'/>" % c.bare, expect="forbidden")
    await admin(b, room, "<item affiliation='owner'/>", type="get", expect="forbidden")
    # nobody kicks an admin (§8.2)
    await admin(a, room, "<item nick='bob' role='none'/>", expect="not-allowed")
    reply = await admin(a, room, "<item affiliation='admin'/>", type="get")
    if listed(reply) != [(b.bare, "admin")]:
        raise TestFailure("admin list: %s" % show(reply))
    reply = await admin(a, room, "<item affiliation='owner'/>", type="get")
    if listed(reply) != [(a.bare, "owner")]:
        raise TestFailure("owner list: %s" % show(reply))
    # §10.7: the only owner cannot step down
    await admin(a, room, "<item jid='%s' affiliation='admin'/>" % a.bare, expect="conflict")
    # a second owner, then the first may go
    await admin(a, room, "<item jid='%s' affiliation='owner'/>" % b.bare)
    await admin(a, room, "<item jid='%s' affiliation='member'/>" % a.bare)
    await a.wait(lambda s: self_presence(room, "alice")(s) and item(s).get("affiliation") == "member"
                 and item(s).get("role") == "participant")
    # the room's owner now is bob
    await admin(a, room, "<item affiliation='owner'/>", type="get", expect="forbidden")


async def test_bad_items(srv):
    a = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice")
    await admin(a, room, "<item affiliation='king' jid='x@localhost'/>", expect="bad-request")
    await admin(a, room, "<item affiliation='member'/>", expect="bad-request")
    await admin(a, room, "", expect="bad-request")


run_tests([
    test_ban,
    test_members_only,
    test_becoming_members_only,
    test_admins_and_owners,
    test_bad_items,
], srv=Server())
