#!/usr/bin/python3
"""51-muc-messages: XEP-0045 §7.4 groupchat messages (from room/nick, to
every occupant, reflected to the sender) with the room's XEP-0359
stanza-id and XEP-0421 occupant-id, forged ids stripped; §8.1 subject
changes and who may make them; §7.5 private messages through the room;
the errors: non-occupants (not-acceptable), unknown nick (item-not-found),
groupchat to a nick (bad-request), private messages switched off."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, run_tests  # noqa: E402
from muc_util import (NS_OID, NS_SID, U, create, groupchat, is_groupchat, join_ok,  # noqa: E402
                      new_room, occupant, show)
from roster_peer import C, error_condition  # noqa: E402


async def two_in_room(srv, fields=None):
    a = await occupant(srv)
    b = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", fields)
    await join_ok(b, room, "bob")
    return a, b, room


async def test_groupchat_to_everyone(srv):
    a, b, room = await two_in_room(srv)
    b.send("<message to='%s' type='groupchat' id='m1'><body>hello</body>"
           "<stanza-id xmlns='%s' id='forged' by='%s'/>"
           "<occupant-id xmlns='%s' id='forged'/></message>" % (room, NS_SID, room, NS_OID))
    got = []
    for p in (a, b):
        st = await p.wait(lambda s: is_groupchat(s, room + "/bob", "hello"), what="groupchat")
        sids = [e for e in st.findall("{%s}stanza-id" % NS_SID) if e.get("by") == room]
        oids = st.findall("{%s}occupant-id" % NS_OID)
        if len(sids) != 1 or sids[0].get("id") == "forged" or len(oids) != 1 or \
                oids[0].get("id") == "forged":
            raise TestFailure("stanza-id/occupant-id not the room's: %s" % show(st))
        got.append((sids[0].get("id"), oids[0].get("id")))
    if got[0] != got[1]:
        raise TestFailure("the occupants got different copies: %s" % got)
    # the occupant-id is stable for a user
    groupchat(b, room, "again")
    st = await a.wait(lambda s: is_groupchat(s, room + "/bob", "again"))
    if st.find("{%s}occupant-id" % NS_OID).get("id") != got[0][1]:
        raise TestFailure("occupant-id changed")
    if st.find("{%s}stanza-id" % NS_SID).get("id") == got[0][0]:
        raise TestFailure("stanza-id reused")


async def test_non_occupant_cannot_send(srv):
    a, b, room = await two_in_room(srv)
    c = await occupant(srv)
    groupchat(c, room, "intruder")
    st = await c.wait(lambda s: s.tag == C("message") and s.get("type") == "error")
    if error_condition(st) != "not-acceptable":
        raise TestFailure("§7.4: %s" % show(st))
    await a.none(lambda s: is_groupchat(s, body="intruder"), wait=0.5)


async def test_subject(srv):
    a, b, room = await two_in_room(srv, {"muc#roomconfig_changesubject": "0"})
    b.send("<message to='%s' type='groupchat'><subject>mine</subject></message>" % room)
    st = await b.wait(lambda s: s.tag == C("message") and s.get("type") == "error")
    if error_condition(st) != "forbidden":
        raise TestFailure("§8.1 participant changed the subject: %s" % show(st))
    a.send("<message to='%s' type='groupchat'><subject>Topic one</subject></message>" % room)
    for p in (a, b):
        await p.wait(lambda s: s.get("from") == room + "/alice" and
                     s.findtext(C("subject")) == "Topic one", what="subject change")
    c = await occupant(srv)
    c.send("<presence to='%s/carol'><x xmlns='http://jabber.org/protocol/muc'/></presence>" % room)
    st = await c.wait(lambda s: s.tag == C("message") and s.find(C("subject")) is not None)
    if st.findtext(C("subject")) != "Topic one" or st.get("from") != room + "/alice" or \
            st.find(C("body")) is not None:
        raise TestFailure("subject on join: %s" % show(st))


async def test_private_messages(srv):
    a, b, room = await two_in_room(srv)
    b.send("<message to='%s/alice' type='chat'><body>psst</body></message>" % room)
    st = await a.wait(lambda s: s.tag == C("message") and s.findtext(C("body")) == "psst")
    if st.get("from") != room + "/bob" or st.find(U("x")) is None or st.get("to") != a.jid:
        raise TestFailure("§7.5 private message: %s" % show(st))
    # to a nick nobody has
    b.send("<message to='%s/nobody' type='chat'><body>x</body></message>" % room)
    st = await b.wait(lambda s: s.tag == C("message") and s.get("type") == "error")
    if error_condition(st) != "item-not-found":
        raise TestFailure("PM to an unknown nick: %s" % show(st))
    # groupchat to one occupant
    b.send("<message to='%s/alice' type='groupchat'><body>x</body></message>" % room)
    st = await b.wait(lambda s: s.tag == C("message") and s.get("type") == "error")
    if error_condition(st) != "bad-request":
        raise TestFailure("groupchat to a nick: %s" % show(st))
    # from outside the room
    c = await occupant(srv)
    c.send("<message to='%s/alice' type='chat'><body>x</body></message>" % room)
    st = await c.wait(lambda s: s.tag == C("message") and s.get("type") == "error")
    if error_condition(st) != "not-acceptable":
        raise TestFailure("PM from a non-occupant: %s" % show(st))


async def test_private_messages_off(srv):
    a, b, room = await two_in_room(srv, {"muc#roomconfig_allowpm": "none"})
    b.send("<message to='%s/alice' type='chat'><body>psst</body></message>" % room)
    st = await b.wait(lambda s: s.tag == C("message") and s.get("type") == "error")
    if error_condition(st) != "not-allowed":
        raise TestFailure("allowpm=none: %s" % show(st))


async def test_bare_room_normal_message(srv):
    a, b, room = await two_in_room(srv)
    b.send("<message to='%s'><body>what</body></message>" % room)
    st = await b.wait(lambda s: s.tag == C("message") and s.get("type") == "error")
    if error_condition(st) != "bad-request":
        raise TestFailure("%s" % show(st))


async def test_message_to_missing_room(srv):
    a = await occupant(srv)
    groupchat(a, new_room(srv), "anyone?")
    st = await a.wait(lambda s: s.tag == C("message") and s.get("type") == "error")
    if error_condition(st) != "item-not-found":
        raise TestFailure("%s" % show(st))


run_tests([
    test_groupchat_to_everyone,
    test_non_occupant_cannot_send,
    test_subject,
    test_private_messages,
    test_private_messages_off,
    test_bare_room_normal_message,
    test_message_to_missing_room,
], srv=Server())
