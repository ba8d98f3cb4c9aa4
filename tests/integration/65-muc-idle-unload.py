#!/usr/bin/python3
"""65-muc-idle-unload: a persistent room with nobody in it leaves memory
after idle_unload seconds and comes back on the next stanza with its
configuration, affiliations and history (rebuilt from its archive, so a
restart keeps the history too); rooms with occupants and temporary rooms
stay; a room whose history is not archived stays so as not to lose it."""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, run_tests  # noqa: E402
from muc_util import (NS_DISCO_ITEMS, PERSISTENT, admin, create, item, join_ok,  # noqa: E402
                      new_room, occupant, say, service, show)
from roster_peer import C  # noqa: E402

IDLE = 1


def unloaded(srv, room):
    return ("%s unloaded (idle)" % room) in srv.log_text()


async def wait_unloaded(srv, room, seconds=8):
    for _ in range(int(seconds * 10)):
        if unloaded(srv, room):
            return
        await asyncio.sleep(0.1)
    raise TestFailure("%s was not unloaded" % room)


def history(p):
    return [s.findtext(C("body")) for s in p.all
            if s.tag == C("message") and s.find(C("body")) is not None]


async def test_unload_and_reload(srv):
    a, b = await occupant(srv), await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", dict(PERSISTENT, **{"muc#roomconfig_roomname": "Idle"}))
    await admin(a, room, "<item jid='%s' affiliation='member'/>" % b.bare)
    for i in range(3):
        await say(a, room, "h%d" % i)
    a.send("<presence to='%s/alice' type='unavailable'/>" % room)
    await a.wait(lambda s: s.tag == C("presence") and s.get("type") == "unavailable",
                 what="leaving")
    await wait_unloaded(srv, room)
    # listed while unloaded
    reply = await b.iq("<query xmlns='%s'/>" % NS_DISCO_ITEMS, to=service(srv))
    if room not in {i.get("jid") for i in reply.iter("{%s}item" % NS_DISCO_ITEMS)}:
        raise TestFailure("unloaded room not listed: %s" % show(reply))
    # back on the next stanza: affiliation and history intact
    st = await join_ok(b, room, "bob")
    if item(st).get("affiliation") != "member":
        raise TestFailure("membership after reload: %s" % show(st))
    if history(b) != ["h0", "h1", "h2"]:
        raise TestFailure("history after reload: %s" % history(b))


async def test_occupied_and_temporary_rooms_stay(srv):
    a = await occupant(srv)
    busy, temp = new_room(srv), new_room(srv)
    await create(a, busy, "alice", PERSISTENT)
    await create(a, temp, "alice")
    await asyncio.sleep(IDLE * 3 + 1)
    if unloaded(srv, busy) or unloaded(srv, temp):
        raise TestFailure("a room with occupants was unloaded")
    await say(a, busy, "still here")


async def test_unarchived_history_stays(srv):
    a = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", dict(PERSISTENT, **{"muc#roomconfig_enablelogging": "0"}))
    await say(a, room, "only in memory")
    a.send("<presence to='%s/alice' type='unavailable'/>" % room)
    await asyncio.sleep(IDLE * 3 + 1)
    if unloaded(srv, room):
        raise TestFailure("a room with unarchived history was unloaded")
    b = await occupant(srv)
    await join_ok(b, room, "bob")
    if history(b) != ["only in memory"]:
        raise TestFailure("history: %s" % history(b))


async def test_history_after_restart(srv):
    a = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", dict(PERSISTENT, **{"muc#maxhistoryfetch": "2"}))
    for i in range(3):
        await say(a, room, "r%d" % i)
    a.close()
    await asyncio.sleep(0.3)
    srv.restart()
    b = await occupant(srv)
    await join_ok(b, room, "bob")
    if history(b) != ["r1", "r2"]:
        raise TestFailure("history after restart: %s" % history(b))


run_tests([
    test_unload_and_reload,
    test_occupied_and_temporary_rooms_stay,
    test_unarchived_history_stays,
    test_history_after_restart,
], srv=Server(**{"modules.muc.idle_unload": IDLE}))
