#!/usr/bin/python3
"""56-muc-persistence: persistent rooms keep their configuration,
affiliations and subject across a restart of the server (the store), and
stay listed in the service's disco#items; temporary rooms do not survive;
a persistent room made temporary is forgotten; when the server shuts down,
every occupant hears it is removed (status 332, XEP-0045 §15.6) before its
stream closes."""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, run_tests  # noqa: E402
from muc_util import (NS_DISCO_ITEMS, admin, codes, configure, create, item, join_error,  # noqa: E402
                      join_ok, new_room, occupant, service, show)
from roster_peer import C, Peer  # noqa: E402


async def relogin(srv, p):
    q = await Peer.login(srv, p.bare, p.password)
    await q.online()
    q.password = p.password
    return q


async def items(p, srv):
    reply = await p.iq("<query xmlns='%s'/>" % NS_DISCO_ITEMS, to=service(srv))
    return {i.get("jid"): i.get("name") for i in reply.find("{%s}query" % NS_DISCO_ITEMS)}


async def test_persistent_room_survives_restart(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    c = await occupant(srv)
    room, temp = new_room(srv), new_room(srv)
    await create(a, room, "alice", {"muc#roomconfig_persistentroom": "1",
                                    "muc#roomconfig_roomname": "Archive",
                                    "muc#roomconfig_membersonly": "1"})
    await admin(a, room, "<item jid='%s' affiliation='member'/>" % b.bare)
    await admin(a, room, "<item jid='%s' affiliation='outcast'/>" % c.bare)
    a.send("<message to='%s' type='groupchat'><subject>Kept topic</subject></message>" % room)
    await a.wait(lambda s: s.findtext(C("subject")) == "Kept topic")
    await create(a, temp, "alice")
    a.close()
    await asyncio.sleep(0.3)

    srv.restart()
    a = await relogin(srv, a)
    b = await relogin(srv, b)
    c = await relogin(srv, c)
    listed = await items(a, srv)
    if listed.get(room) != "Archive" or temp in listed:
        raise TestFailure("disco#items after restart: %s" % listed)
    # affiliations kept: the member enters, the outcast does not, others
    # are not members
    st = await join_ok(b, room, "bob")
    if 201 in codes(st) or item(st).get("affiliation") != "member":
        raise TestFailure("member after restart: %s" % show(st))
    subj = [s for s in b.all if s.find(C("subject")) is not None][-1]
    if subj.findtext(C("subject")) != "Kept topic":
        raise TestFailure("subject lost: %s" % show(subj))
    if await join_error(c, room, "carol") != "forbidden":
        raise TestFailure("ban lost")
    st = await join_ok(a, room, "alice")
    if item(st).get("affiliation") != "owner":
        raise TestFailure("owner lost: %s" % show(st))
    # the temporary room is gone: joining creates it anew
    st = await join_ok(a, temp, "alice")
    if 201 not in codes(st):
        raise TestFailure("temporary room survived a restart")


async def test_made_temporary_is_forgotten(srv):
    a = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", {"muc#roomconfig_persistentroom": "1"})
    await configure(a, room, {"muc#roomconfig_persistentroom": "0"})
    a.send("<presence to='%s/alice' type='unavailable'/>" % room)
    await a.wait(lambda s: s.get("from") == room + "/alice" and s.get("type") == "unavailable")
    srv.restart()
    a = await relogin(srv, a)
    if room in await items(a, srv):
        raise TestFailure("a room made temporary is still listed")
    st = await join_ok(a, room, "alice")
    if 201 not in codes(st):
        raise TestFailure("a room made temporary came back")


async def test_empty_persistent_room_stays(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", {"muc#roomconfig_persistentroom": "1"})
    a.send("<presence to='%s/alice' type='unavailable'/>" % room)
    await a.wait(lambda s: s.get("from") == room + "/alice" and s.get("type") == "unavailable")
    st = await join_ok(b, room, "bob")
    if 201 in codes(st):
        raise TestFailure("an empty persistent room went away")


async def test_shutdown_tells_occupants(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    room, temp = new_room(srv), new_room(srv)
    await create(a, room, "alice", {"muc#roomconfig_persistentroom": "1"})
    await join_ok(b, room, "bob")
    await create(b, temp, "bob2")
    await asyncio.get_running_loop().run_in_executor(None, srv.stop)
    for p, r, nick in ((a, room, "alice"), (b, room, "bob"), (b, temp, "bob2")):
        st = await p.wait(lambda s, r=r, nick=nick: s.tag == C("presence") and
                          s.get("type") == "unavailable" and s.get("from") == "%s/%s" % (r, nick),
                          what="unavailable presence from %s/%s" % (r, nick))
        if not {110, 332} <= set(codes(st)):
            raise TestFailure("shutdown presence without 110 and 332: %s" % show(st))
    # only its own: nobody is told about each of the others leaving
    others = [e for e in a.all if e.get("from") == room + "/bob" and e.get("type") == "unavailable"]
    if others:
        raise TestFailure("occupants were told of each other at shutdown: %s" % show(others[0]))
    srv.start()  # for the harness's own clean-shutdown check


run_tests([
    test_persistent_room_survives_restart,
    test_made_temporary_is_forgotten,
    test_empty_persistent_room_stays,
    test_shutdown_tells_occupants,  # last: stops the server
], srv=Server())
