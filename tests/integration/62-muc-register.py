#!/usr/bin/python3
"""62-muc-register: XEP-0045 §7.10 registering with a room (the
jabber:iq:register form with muc#register_roomnick), §7.12 discovering
one's reserved nick (node x-roomuser-item), and reserved nicks: the
registered user becomes a member, enters under the registered nick (210
when it asked for another), and nobody else may take it (conflict on
entering, on a nick change, on registering it). Registration survives a
restart and can be cancelled. Errors: banned users (forbidden), non-members
of a members-only room (not-allowed), a form without a nick
(not-acceptable), a taken nick (conflict)."""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, run_tests  # noqa: E402
from muc_util import (NS_ADMIN, NS_DATA, NS_DISCO_INFO, NS_MUC, NS_REGISTER, PERSISTENT,  # noqa: E402
                      admin, codes, create, form_xml, item, join, join_error, join_ok,
                      new_room, occupant, self_presence, show)
from roster_peer import C, Peer, error_condition  # noqa: E402

NS_MUC_REGISTER = NS_MUC + "#register"


async def register(p, room, nick, expect="result"):
    fields = {"muc#register_roomnick": nick} if nick is not None else {}
    reply = await p.iq("<query xmlns='%s'>%s</query>"
                       % (NS_REGISTER, form_xml(fields, form_type=NS_MUC_REGISTER)),
                       type="set", to=room)
    if expect == "result" and reply.get("type") != "result":
        raise TestFailure("registering %s failed: %s" % (nick, show(reply)))
    if expect != "result" and error_condition(reply) != expect:
        raise TestFailure("registering %s: expected <%s/>, got %s" % (nick, expect, show(reply)))
    return reply


async def reserved(p, room):
    reply = await p.iq("<query xmlns='%s' node='x-roomuser-item'/>" % NS_DISCO_INFO, to=room)
    if reply.get("type") != "result":
        raise TestFailure("x-roomuser-item: %s" % show(reply))
    ids = reply.findall("{%s}query/{%s}identity" % (NS_DISCO_INFO, NS_DISCO_INFO))
    return ids[0].get("name") if ids else None


async def test_form_and_register(srv):
    a, b = await occupant(srv), await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", PERSISTENT)
    reply = await b.iq("<query xmlns='%s'/>" % NS_REGISTER, to=room)
    x = reply.find("{%s}query/{%s}x" % (NS_REGISTER, NS_DATA))
    if reply.get("type") != "result" or x is None:
        raise TestFailure("registration form: %s" % show(reply))
    fields = {f.get("var"): f for f in x.findall("{%s}field" % NS_DATA)}
    if fields.get("FORM_TYPE") is None or fields["FORM_TYPE"].findtext("{%s}value" % NS_DATA) != NS_MUC_REGISTER:
        raise TestFailure("FORM_TYPE: %s" % show(x))
    nick = fields.get("muc#register_roomnick")
    if nick is None or nick.find("{%s}required" % NS_DATA) is None:
        raise TestFailure("roomnick field: %s" % show(x))
    if await reserved(b, room) is not None:
        raise TestFailure("a reserved nick before registering")
    await register(b, room, "bobby")
    if await reserved(b, room) != "bobby":
        raise TestFailure("§7.12 reserved nick after registering")
    reply = await b.iq("<query xmlns='%s'/>" % NS_REGISTER, to=room)
    q = reply.find("{%s}query" % NS_REGISTER)
    if q.find("{%s}registered" % NS_REGISTER) is None or q.findtext("{%s}username" % NS_REGISTER) != "bobby":
        raise TestFailure("already registered: %s" % show(reply))
    # a member now, listed with the nick
    reply = await admin(a, room, "<item affiliation='member'/>", type="get")
    items = {i.get("jid"): i.get("nick") for i in reply.iter("{%s}item" % NS_ADMIN)}
    if items.get(b.bare) != "bobby":
        raise TestFailure("member list: %s" % items)
    # entering under another nick: the registered one, with 210
    b.send("<presence to='%s/other'><x xmlns='%s'/></presence>" % (room, NS_MUC))
    st = await b.wait(self_presence(room, "bobby"), what="self-presence as bobby")
    if 210 not in codes(st) or item(st).get("affiliation") != "member":
        raise TestFailure("§7.2.11 210: %s" % show(st))


async def test_reserved_nick_is_taken(srv):
    a, b, c = await occupant(srv), await occupant(srv), await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", PERSISTENT)
    await register(b, room, "bobby")
    if await join_error(c, room, "bobby") != "conflict":
        raise TestFailure("entering under a reserved nick")
    await join_ok(c, room, "carol")
    c.send("<presence to='%s/bobby'/>" % room)
    st = await c.wait(lambda s: s.tag == C("presence") and s.get("type") == "error",
                      what="nick change error")
    if error_condition(st) != "conflict":
        raise TestFailure("nick change to a reserved nick: %s" % show(st))
    await register(c, room, "bobby", expect="conflict")
    # a nick in use by an occupant is taken too
    await register(c, room, "alice", expect="conflict")
    # the owner of the nick may still use it
    await join_ok(b, room, "bobby")


async def test_errors(srv):
    a, b, c = await occupant(srv), await occupant(srv), await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", PERSISTENT)
    await admin(a, room, "<item jid='%s' affiliation='outcast'/>" % c.bare)
    await register(c, room, "bad", expect="forbidden")
    await register(b, room, None, expect="not-acceptable")
    reply = await b.iq("<query xmlns='%s'/>" % NS_REGISTER, type="set", to=room)
    if error_condition(reply) != "bad-request":
        raise TestFailure("set without a form: %s" % show(reply))
    closed = new_room(srv)
    await create(a, closed, "alice", dict(PERSISTENT, **{"muc#roomconfig_membersonly": "1"}))
    await register(b, closed, "bob", expect="not-allowed")
    # a member of a members-only room may register
    await admin(a, closed, "<item jid='%s' affiliation='member'/>" % b.bare)
    await register(b, closed, "bob")


async def test_cancel_and_restart(srv):
    a, b, c = await occupant(srv), await occupant(srv), await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", PERSISTENT)
    await register(b, room, "keeper")
    await register(c, room, "leaver")
    reply = await c.iq("<query xmlns='%s'><remove/></query>" % NS_REGISTER, type="set", to=room)
    if reply.get("type") != "result":
        raise TestFailure("cancelling: %s" % show(reply))
    reply = await c.iq("<query xmlns='%s'><remove/></query>" % NS_REGISTER, type="set", to=room)
    if error_condition(reply) != "item-not-found":
        raise TestFailure("cancelling twice: %s" % show(reply))
    for p in (a, b, c):
        p.close()
    await asyncio.sleep(0.3)
    srv.restart()
    b2 = await Peer.login(srv, b.bare, b.password)
    await b2.online()
    d = await occupant(srv)
    if await reserved(b2, room) != "keeper":
        raise TestFailure("registration lost in a restart")
    if await join_error(d, room, "keeper") != "conflict":
        raise TestFailure("reserved nick free after a restart")
    await join_ok(d, room, "leaver")  # the cancelled one is free


run_tests([
    test_form_and_register,
    test_reserved_nick_is_taken,
    test_errors,
    test_cancel_and_restart,
], srv=Server())
