#!/usr/bin/python3
"""57-muc-disco: XEP-0045 §6: the service in the host's disco#items, the
service's identity (conference/text) and features, its disco#items listing
public rooms only (rooms live on several workers), a room's disco#info
with its muc_* features and the muc#roominfo form, locked and missing
rooms (item-not-found), and XEP-0410 self-pings."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, run_tests  # noqa: E402
from muc_util import (NS_DATA, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_MUC, NS_OID, NS_SID,  # noqa: E402
                      configure, create, join_ok, new_room, occupant, service, show)
from roster_peer import error_condition  # noqa: E402


def features(reply):
    return {f.get("var") for f in reply.find("{%s}query" % NS_DISCO_INFO).findall("{%s}feature" % NS_DISCO_INFO)}


async def test_service_info(srv):
    a = await occupant(srv)
    reply = await a.iq("<query xmlns='%s'/>" % NS_DISCO_ITEMS, to=srv.domain)
    jids = [i.get("jid") for i in reply.find("{%s}query" % NS_DISCO_ITEMS)]
    if service(srv) not in jids:
        raise TestFailure("service not in the host's items: %s" % show(reply))
    reply = await a.iq("<query xmlns='%s'/>" % NS_DISCO_INFO, to=service(srv))
    ident = reply.find("{%s}query" % NS_DISCO_INFO).find("{%s}identity" % NS_DISCO_INFO)
    if ident is None or ident.get("category") != "conference" or ident.get("type") != "text":
        raise TestFailure("§6.1 identity: %s" % show(reply))
    if NS_MUC not in features(reply):
        raise TestFailure("§6.1 feature: %s" % show(reply))


async def test_public_rooms_listed(srv):
    a = await occupant(srv)
    rooms = [new_room(srv) for _ in range(6)]  # spread over the workers
    for i, room in enumerate(rooms):
        await create(a, room, "alice", {"muc#roomconfig_roomname": "Room %d" % i,
                                        "muc#roomconfig_publicroom": "1" if i % 2 == 0 else "0"})
    locked = new_room(srv)
    await join_ok(a, locked, "alice")
    reply = await a.iq("<query xmlns='%s'/>" % NS_DISCO_ITEMS, to=service(srv))
    listed = {i.get("jid"): i.get("name") for i in reply.find("{%s}query" % NS_DISCO_ITEMS)}
    for i, room in enumerate(rooms):
        if i % 2 == 0 and listed.get(room) != "Room %d" % i:
            raise TestFailure("public room %s not listed: %s" % (room, listed))
        if i % 2 == 1 and room in listed:
            raise TestFailure("hidden room %s listed" % room)
    if locked in listed:
        raise TestFailure("a locked room is listed")
    # a room that goes away leaves the list
    a.send("<presence to='%s/alice' type='unavailable'/>" % rooms[0])
    await a.wait(lambda s: s.get("from") == rooms[0] + "/alice" and s.get("type") == "unavailable")
    for _ in range(20):
        reply = await a.iq("<query xmlns='%s'/>" % NS_DISCO_ITEMS, to=service(srv))
        if rooms[0] not in {i.get("jid") for i in reply.find("{%s}query" % NS_DISCO_ITEMS)}:
            break
    else:
        raise TestFailure("a vanished room is still listed")


async def test_room_info(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    room = new_room(srv)
    await join_ok(a, room, "alice")
    reply = await b.iq("<query xmlns='%s'/>" % NS_DISCO_INFO, to=room)
    if error_condition(reply) != "item-not-found":
        raise TestFailure("§10.1.1 a locked room answered: %s" % show(reply))
    await configure(a, room, {"muc#roomconfig_roomname": "Info", "muc#roomconfig_roomdesc": "about",
                              "muc#roomconfig_membersonly": "1", "muc#roomconfig_publicroom": "0",
                              "muc#roomconfig_passwordprotectedroom": "1",
                              "muc#roomconfig_roomsecret": "pw"})
    reply = await b.iq("<query xmlns='%s'/>" % NS_DISCO_INFO, to=room)
    f = features(reply)
    want = {NS_MUC, "muc_hidden", "muc_temporary", "muc_membersonly", "muc_unmoderated",
            "muc_semianonymous", "muc_passwordprotected", NS_SID, NS_OID}
    if not want <= f:
        raise TestFailure("§6.4 features missing %s: %s" % (want - f, show(reply)))
    q = reply.find("{%s}query" % NS_DISCO_INFO)
    if q.find("{%s}identity" % NS_DISCO_INFO).get("name") != "Info":
        raise TestFailure("room name: %s" % show(reply))
    x = q.find("{%s}x" % NS_DATA)
    vals = {fl.get("var"): fl.findtext("{%s}value" % NS_DATA) for fl in x.findall("{%s}field" % NS_DATA)}
    if vals.get("FORM_TYPE") != NS_MUC + "#roominfo" or vals.get("muc#roominfo_description") != "about" \
            or vals.get("muc#roominfo_occupants") != "1":
        raise TestFailure("muc#roominfo: %s" % vals)
    reply = await b.iq("<query xmlns='%s'/>" % NS_DISCO_INFO, to=new_room(srv))
    if error_condition(reply) != "item-not-found":
        raise TestFailure("missing room: %s" % show(reply))


async def test_self_ping(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice")
    reply = await a.iq("<ping xmlns='urn:xmpp:ping'/>", to=room + "/alice")
    if reply.get("type") != "result":
        raise TestFailure("XEP-0410 joined: %s" % show(reply))
    reply = await b.iq("<ping xmlns='urn:xmpp:ping'/>", to=room + "/alice")
    if error_condition(reply) != "not-acceptable":
        raise TestFailure("XEP-0410 not joined: %s" % show(reply))


run_tests([
    test_service_info,
    test_public_rooms_listed,
    test_room_info,
    test_self_ping,
], srv=Server())
