#!/usr/bin/python3
"""54-muc-owner: XEP-0045 §10: the configuration form (muc#roomconfig) and
its effects: password-protected rooms (not-authorized without the right
password), maximum occupants (service-unavailable), anonymity changes
(172/173), configuration reserved to owners (forbidden), cancelling the
initial configuration, and destroying a room with a reason and an
alternate venue."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, run_tests  # noqa: E402
from muc_util import (NS_DATA, NS_OWNER, U, codes, configure, create, join_error,  # noqa: E402
                      join_ok, new_room, occupant, self_presence, show)
from roster_peer import C, error_condition  # noqa: E402


def form_fields(reply):
    x = reply.find("{%s}query" % NS_OWNER).find("{%s}x" % NS_DATA)
    return {f.get("var"): f.findtext("{%s}value" % NS_DATA) for f in x.findall("{%s}field" % NS_DATA)}


async def test_config_form(srv):
    a = await occupant(srv)
    room = new_room(srv)
    await join_ok(a, room, "alice")
    reply = await a.iq("<query xmlns='%s'/>" % NS_OWNER, to=room)
    if reply.get("type") != "result":
        raise TestFailure("§10.1.3 form: %s" % show(reply))
    f = form_fields(reply)
    for var in ("FORM_TYPE", "muc#roomconfig_roomname", "muc#roomconfig_roomdesc",
                "muc#roomconfig_persistentroom", "muc#roomconfig_publicroom",
                "muc#roomconfig_membersonly", "muc#roomconfig_moderatedroom",
                "muc#roomconfig_passwordprotectedroom", "muc#roomconfig_roomsecret",
                "muc#roomconfig_whois", "muc#roomconfig_maxusers", "muc#roomconfig_changesubject",
                "muc#roomconfig_allowinvites", "muc#roomconfig_allowpm", "muc#maxhistoryfetch"):
        if var not in f:
            raise TestFailure("field %s missing: %s" % (var, sorted(f)))
    await configure(a, room, {"muc#roomconfig_roomname": "Tea room",
                              "muc#roomconfig_maxusers": "bogus"}, expect="not-acceptable")
    await configure(a, room, {"muc#roomconfig_roomname": "Tea room"})
    reply = await a.iq("<query xmlns='%s'/>" % NS_OWNER, to=room)
    if form_fields(reply)["muc#roomconfig_roomname"] != "Tea room":
        raise TestFailure("config not kept: %s" % show(reply))


async def test_only_owners_configure(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice")
    await join_ok(b, room, "bob")
    reply = await b.iq("<query xmlns='%s'/>" % NS_OWNER, to=room)
    if error_condition(reply) != "forbidden":
        raise TestFailure("%s" % show(reply))
    await configure(b, room, {"muc#roomconfig_roomname": "mine"}, expect="forbidden")


async def test_password(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", {"muc#roomconfig_passwordprotectedroom": "1",
                                    "muc#roomconfig_roomsecret": "s3cret"})
    if await join_error(b, room, "bob") != "not-authorized":
        raise TestFailure("§7.2.5 no password")
    if await join_error(b, room, "bob", "<password>wrong</password>") != "not-authorized":
        raise TestFailure("§7.2.5 wrong password")
    await join_ok(b, room, "bob", "<password>s3cret</password>")
    # a protected room needs a password
    await configure(a, room, {"muc#roomconfig_passwordprotectedroom": "1",
                              "muc#roomconfig_roomsecret": ""}, expect="not-acceptable")


async def test_max_users(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    c = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", {"muc#roomconfig_maxusers": "2"})
    await join_ok(b, room, "bob")
    if await join_error(c, room, "carol") != "service-unavailable":
        raise TestFailure("§7.2.9 full room")


async def test_anonymity_change(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice")
    await join_ok(b, room, "bob")
    await configure(a, room, {"muc#roomconfig_whois": "anyone"})
    st = await b.wait(lambda s: s.tag == C("message") and s.get("from") == room and 172 in codes(s))
    if 104 not in codes(st):
        raise TestFailure("104 missing: %s" % show(st))


async def test_cancel_initial_config_destroys(srv):
    a = await occupant(srv)
    room = new_room(srv)
    await join_ok(a, room, "alice")
    reply = await a.iq("<query xmlns='%s'><x xmlns='%s' type='cancel'/></query>" % (NS_OWNER, NS_DATA),
                       type="set", to=room)
    if reply.get("type") != "result":
        raise TestFailure("%s" % show(reply))
    await a.wait(self_presence(room, "alice", "unavailable"))
    st = await join_ok(a, room, "alice")
    if 201 not in codes(st):
        raise TestFailure("cancelled room still there: %s" % show(st))


async def test_destroy(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice")
    await join_ok(b, room, "bob")
    reply = await b.iq("<query xmlns='%s'><destroy/></query>" % NS_OWNER, type="set", to=room)
    if error_condition(reply) != "forbidden":
        raise TestFailure("a participant destroyed the room: %s" % show(reply))
    alt = new_room(srv)
    reply = await a.iq("<query xmlns='%s'><destroy jid='%s'><reason>moving</reason></destroy></query>"
                       % (NS_OWNER, alt), type="set", to=room)
    if reply.get("type") != "result":
        raise TestFailure("%s" % show(reply))
    st = await b.wait(lambda s: s.get("from") == room + "/bob" and s.get("type") == "unavailable")
    d = st.find(U("x")).find(U("destroy"))
    if d is None or d.get("jid") != alt or d.findtext(U("reason")) != "moving":
        raise TestFailure("§10.9 destroy presence: %s" % show(st))
    st = await join_ok(b, room, "bob")
    if 201 not in codes(st):
        raise TestFailure("destroyed room still there")


run_tests([
    test_config_form,
    test_only_owners_configure,
    test_password,
    test_max_users,
    test_anonymity_change,
    test_cancel_initial_config_destroys,
    test_destroy,
], srv=Server())
