#!/usr/bin/python3
"""59-muc-clients: real client libraries against the MUC service:
slixmpp's XEP-0045 plugin (join_muc_wait with history, room configuration
through its API, groupchat, kick with set_role) and aioxmpp's MUCClient
(joining, the roster of occupants, messages both ways)."""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Server, TestFailure, connect, run_tests, wait_stanza  # noqa: E402
from muc_util import new_room  # noqa: E402


async def slix(srv):
    jid, pw = srv.new_user()
    c = await connect(srv, jid + "/slix", pw, plugins=("xep_0045", "xep_0004", "xep_0203"))
    return c


async def test_slixmpp(srv):
    a = await slix(srv)
    b = await slix(srv)
    muc_a, muc_b = a.plugin["xep_0045"], b.plugin["xep_0045"]
    room = new_room(srv)
    await muc_a.join_muc_wait(room, "alice", maxstanzas=0, timeout=harness.TIMEOUT)
    form = await muc_a.get_room_config(room)
    submit = a.plugin["xep_0004"].make_form(ftype="submit")
    submit.add_field(var="FORM_TYPE", value="http://jabber.org/protocol/muc#roomconfig")
    submit.add_field(var="muc#roomconfig_roomname", value="Slix room")
    fields = form["fields"]
    names = list(fields) if isinstance(fields, dict) else [f["var"] for f in fields]
    if "muc#roomconfig_roomname" not in names:
        raise TestFailure("form fields: %s" % names)
    await muc_a.set_room_config(room, submit)
    a.send_message(mto=room, mbody="before bob", mtype="groupchat")
    await wait_stanza(a, lambda s: s.name == "message" and s["body"] == "before bob")
    presence, subject, occupants, history = await muc_b.join_muc_wait(
        room, "bob", maxstanzas=5, timeout=harness.TIMEOUT)
    if [m["body"] for m in history] != ["before bob"]:
        raise TestFailure("slixmpp history: %s" % [str(m) for m in history])
    if sorted(p["muc"]["nick"] for p in occupants) != ["alice", "bob"]:
        raise TestFailure("slixmpp occupants: %s" % [str(p) for p in occupants])
    b.send_message(mto=room, mbody="hi all", mtype="groupchat")
    st = await wait_stanza(a, lambda s: s.name == "message" and s["body"] == "hi all")
    if str(st["from"]) != room + "/bob":
        raise TestFailure("from: %s" % st["from"])
    await muc_a.set_role(room, "bob", "none", reason="bye")
    st = await wait_stanza(b, lambda s: s.name == "presence" and s["type"] == "unavailable"
                           and 307 in s["muc"]["status_codes"])


async def test_aioxmpp(srv):
    import aioxmpp
    import aioxmpp.connector
    import aioxmpp.muc
    jid, pw = srv.new_user()
    a = await slix(srv)
    room = new_room(srv)
    await a.plugin["xep_0045"].join_muc_wait(room, "alice", maxstanzas=0, timeout=harness.TIMEOUT)
    a.send_raw("<iq type='set' to='%s' id='inst'><query xmlns='http://jabber.org/protocol/muc#owner'>"
               "<x xmlns='jabber:x:data' type='submit'/></query></iq>" % room)
    await wait_stanza(a, lambda s: s.name == "iq" and s["id"] == "inst")

    client = aioxmpp.PresenceManagedClient(
        aioxmpp.JID.fromstr(jid),
        aioxmpp.make_security_layer(pw, no_verify=True),
        override_peer=[("127.0.0.1", srv.c2s_port, aioxmpp.connector.STARTTLSConnector())],
    )
    received = asyncio.get_running_loop().create_future()
    async with client.connected():
        muc = client.summon(aioxmpp.MUCClient)
        aroom, joined = muc.join(aioxmpp.JID.fromstr(room), "carol")
        await asyncio.wait_for(joined, harness.TIMEOUT)
        nicks = sorted(m.nick for m in aroom.members)
        if nicks != ["alice", "carol"]:
            raise TestFailure("aioxmpp members: %s" % nicks)

        def on_message(msg, member, source, **kw):
            if member is not None and member.nick == "alice" and not received.done():
                received.set_result(str(msg.body.any()))
        aroom.on_message.connect(on_message)
        a.send_message(mto=room, mbody="hello aioxmpp", mtype="groupchat")
        body = await asyncio.wait_for(received, harness.TIMEOUT)
        if body != "hello aioxmpp":
            raise TestFailure("aioxmpp got %r" % body)
        msg = aioxmpp.Message(type_=aioxmpp.MessageType.GROUPCHAT)
        msg.body[None] = "hello slixmpp"
        await aroom.send_message(msg)
        st = await wait_stanza(a, lambda s: s.name == "message" and s["body"] == "hello slixmpp")
        if str(st["from"]) != room + "/carol":
            raise TestFailure("from: %s" % st["from"])
        await aroom.leave()


run_tests([
    test_slixmpp,
    test_aioxmpp,
], srv=Server())
