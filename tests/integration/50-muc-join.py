#!/usr/bin/python3
"""50-muc-join: XEP-0045 §7.2, §7.6, §7.14, §10.1: entering a room (instant
room creation with 201 and the lock until the owner configures it),
presence of the occupants before one's own (110, and 100 in a
non-anonymous room), the subject last, nick conflicts, leaving, nick
changes (303), and occupants removed when their session ends."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, run_tests  # noqa: E402
from muc_util import (NS_OID, U, codes, configure, create, item, join, join_error,  # noqa: E402
                      join_ok, new_room, occupant, self_presence, show)
from roster_peer import C, error_condition  # noqa: E402


async def test_create_locked_then_instant(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    room = new_room(srv)
    st = await join_ok(a, room, "alice")
    if not {110, 201} <= codes(st):
        raise TestFailure("creation self-presence lacks 110/201: %s" % show(st))
    it = item(st)
    if it.get("affiliation") != "owner" or it.get("role") != "moderator":
        raise TestFailure("creator is not owner/moderator: %s" % show(st))
    if st.find("{%s}occupant-id" % NS_OID) is None:
        raise TestFailure("no XEP-0421 occupant-id: %s" % show(st))
    # §10.1.1: locked until configured: others get item-not-found
    if await join_error(b, room, "bob") != "item-not-found":
        raise TestFailure("a locked room let someone in")
    await configure(a, room)  # §10.1.2 instant room
    st = await join_ok(b, room, "bob")
    if 201 in codes(st) or item(st).get("role") != "participant":
        raise TestFailure("bob's self-presence: %s" % show(st))
    # the owner sees bob arrive
    await a.wait(lambda s: s.tag == C("presence") and s.get("from") == room + "/bob")


async def test_presence_order_and_subject(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    c = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice")
    await join_ok(b, room, "bob")
    c.forget()
    c.send("<presence to='%s/carol'><x xmlns='http://jabber.org/protocol/muc'/></presence>" % room)
    await c.wait(lambda s: s.tag == C("message") and s.find(C("subject")) is not None, what="subject")
    order = [s.get("from") for s in c.all if s.tag in (C("presence"), C("message"))]
    if order != [room + "/alice", room + "/bob", room + "/carol", room]:
        raise TestFailure("§7.2.3 order (occupants, self, subject): %s" % order)
    mine = [s for s in c.all if s.get("from") == room + "/carol"][0]
    if codes(mine) != {110}:
        raise TestFailure("semi-anonymous self-presence codes: %s" % show(mine))
    # semi-anonymous: a participant does not see real JIDs, a moderator does
    others = [s for s in c.all if s.get("from") == room + "/alice"][0]
    if item(others).get("jid"):
        raise TestFailure("participant saw a real JID: %s" % show(others))
    st = await a.wait(lambda s: s.tag == C("presence") and s.get("from") == room + "/carol")
    if item(st).get("jid") != c.jid:
        raise TestFailure("moderator did not see carol's real JID: %s" % show(st))


async def test_non_anonymous_status_100(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", {"muc#roomconfig_whois": "anyone"})
    st = await join_ok(b, room, "bob")
    if not {100, 110} <= codes(st):
        raise TestFailure("non-anonymous room without 100: %s" % show(st))
    pres = [s for s in b.all if s.get("from") == room + "/alice"][0]
    if item(pres).get("jid") != a.jid:
        raise TestFailure("non-anonymous: real JID not shown: %s" % show(pres))


async def test_nick_conflict(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice")
    if await join_error(b, room, "alice") != "conflict":
        raise TestFailure("§7.2.8: no conflict for a taken nick")
    # another session of the same user with the same nick: conflict too
    a2 = await occupant(srv)
    if await join_error(a2, room, "alice") != "conflict":
        raise TestFailure("conflict expected")
    await join_ok(b, room, "bob")


async def test_no_nick(srv):
    a = await occupant(srv)
    room = new_room(srv)
    a.send("<presence to='%s'><x xmlns='http://jabber.org/protocol/muc'/></presence>" % room)
    st = await a.wait(lambda s: s.tag == C("presence") and s.get("type") == "error")
    if error_condition(st) != "jid-malformed":
        raise TestFailure("§7.2.1: %s" % show(st))


async def test_leave(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice")
    await join_ok(b, room, "bob")
    b.send("<presence to='%s/bob' type='unavailable'><status>bye</status></presence>" % room)
    st = await b.wait(self_presence(room, "bob", "unavailable"), what="own unavailable with 110")
    if item(st).get("role") != "none":
        raise TestFailure("role after leaving: %s" % show(st))
    st = await a.wait(lambda s: s.get("from") == room + "/bob" and s.get("type") == "unavailable")
    if st.findtext(C("status")) != "bye" or 110 in codes(st):
        raise TestFailure("others' unavailable: %s" % show(st))


async def test_nick_change(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice")
    await join_ok(b, room, "bob")
    b.send("<presence to='%s/robert'/>" % room)
    st = await b.wait(self_presence(room, "bob", "unavailable"))
    if 303 not in codes(st) or item(st).get("nick") != "robert":
        raise TestFailure("§7.6.3 unavailable with 303: %s" % show(st))
    await b.wait(self_presence(room, "robert"))
    st = await a.wait(lambda s: s.get("from") == room + "/bob" and s.get("type") == "unavailable")
    if 303 not in codes(st) or item(st).get("nick") != "robert":
        raise TestFailure("others' 303: %s" % show(st))
    await a.wait(lambda s: s.get("from") == room + "/robert" and s.get("type") is None)
    # to a nick that is taken: conflict, nothing changes
    b.send("<presence to='%s/alice'/>" % room)
    st = await b.wait(lambda s: s.get("type") == "error" and s.get("from") == room + "/alice")
    if error_condition(st) != "conflict":
        raise TestFailure("§7.6.3 conflict: %s" % show(st))


async def test_presence_update(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice")
    await join_ok(b, room, "bob")
    b.send("<presence to='%s/bob'><show>away</show><status>lunch</status></presence>" % room)
    st = await a.wait(lambda s: s.get("from") == room + "/bob" and s.findtext(C("show")) == "away")
    if st.findtext(C("status")) != "lunch" or st.find(U("x")) is None:
        raise TestFailure("§7.7 update: %s" % show(st))


async def test_session_end_removes_occupant(srv):
    """The user's server sends unavailable to the room (directed presence)."""
    a = await occupant(srv)
    b = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice")
    await join_ok(b, room, "bob")
    b.raw.sock.close()  # abrupt: no unavailable from the client
    await a.wait(lambda s: s.get("from") == room + "/bob" and s.get("type") == "unavailable",
                 what="bob's unavailable after his session ended")
    # the nick is free again
    c = await occupant(srv)
    await join_ok(c, room, "bob")


async def test_temporary_room_vanishes(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice")
    a.send("<presence to='%s/alice' type='unavailable'/>" % room)
    await a.wait(self_presence(room, "alice", "unavailable"))
    # a new join creates it again (201): the old one went
    st = await join_ok(b, room, "bob")
    if 201 not in codes(st):
        raise TestFailure("an empty temporary room survived: %s" % show(st))


async def test_join_without_muc_x_is_instant(srv):
    """§10.1.1: an old client's presence creates an unlocked room."""
    a = await occupant(srv)
    b = await occupant(srv)
    room = new_room(srv)
    a.send("<presence to='%s/alice'/>" % room)
    await a.wait(self_presence(room, "alice"))
    await join_ok(b, room, "bob")


run_tests([
    test_create_locked_then_instant,
    test_presence_order_and_subject,
    test_non_anonymous_status_100,
    test_nick_conflict,
    test_no_nick,
    test_leave,
    test_nick_change,
    test_presence_update,
    test_session_end_removes_occupant,
    test_temporary_room_vanishes,
    test_join_without_muc_x_is_instant,
], srv=Server())
