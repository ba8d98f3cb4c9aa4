#!/usr/bin/python3
"""52-muc-moderation: XEP-0045 §8: kicking (307), granting and revoking
voice, moderated rooms where visitors may not speak (forbidden), voice
requests (§7.13, §8.6), the voice and moderator lists, and what a
moderator may not do (kick an admin: not-allowed; a participant acting as
a moderator: forbidden)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, run_tests  # noqa: E402
from muc_util import (NS_ADMIN, NS_DATA, U, admin, codes, create, form_xml, groupchat,  # noqa: E402
                      is_groupchat, item, join_ok, new_room, occupant, self_presence, show)
from roster_peer import C, error_condition  # noqa: E402


async def test_kick(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    c = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice")
    await join_ok(b, room, "bob")
    await join_ok(c, room, "carol")
    # a participant may not kick
    await admin(c, room, "<item nick='bob' role='none'/>", expect="forbidden")
    await admin(a, room, "<item nick='bob' role='none'><reason>spam</reason></item>")
    st = await b.wait(self_presence(room, "bob", "unavailable"))
    if 307 not in codes(st) or item(st).findtext(U("reason")) != "spam" or \
            item(st).find(U("actor")).get("nick") != "alice":
        raise TestFailure("§8.2 kicked occupant's presence: %s" % show(st))
    st = await c.wait(lambda s: s.get("from") == room + "/bob" and s.get("type") == "unavailable")
    if 307 not in codes(st) or 110 in codes(st):
        raise TestFailure("others' 307: %s" % show(st))
    # nobody may kick an owner
    await admin(a, room, "<item nick='carol' role='moderator'/>")
    await admin(c, room, "<item nick='alice' role='none'/>", expect="forbidden")
    # bob may come back (a kick is not a ban)
    await join_ok(b, room, "bob")


async def test_moderated_room_and_voice(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", {"muc#roomconfig_moderatedroom": "1"})
    st = await join_ok(b, room, "bob")
    if item(st).get("role") != "visitor":
        raise TestFailure("moderated room: newcomer not a visitor: %s" % show(st))
    groupchat(b, room, "can I speak")
    st = await b.wait(lambda s: s.tag == C("message") and s.get("type") == "error")
    if error_condition(st) != "forbidden":
        raise TestFailure("visitor spoke: %s" % show(st))
    await a.none(lambda s: is_groupchat(s, body="can I speak"), wait=0.3)
    # §8.3 grant voice
    await admin(a, room, "<item nick='bob' role='participant'/>")
    st = await b.wait(self_presence(room, "bob"))
    if item(st).get("role") != "participant":
        raise TestFailure("voice grant: %s" % show(st))
    groupchat(b, room, "thanks")
    await a.wait(lambda s: is_groupchat(s, room + "/bob", "thanks"))
    # §8.5 the voice list
    reply = await admin(a, room, "<item role='participant'/>", type="get")
    nicks = [i.get("nick") for i in reply.find("{%s}query" % NS_ADMIN)]
    if nicks != ["bob"]:
        raise TestFailure("voice list: %s" % show(reply))
    # §8.4 revoke
    await admin(a, room, "<item nick='bob' role='visitor'/>")
    await b.wait(lambda s: self_presence(room, "bob")(s) and item(s).get("role") == "visitor")
    groupchat(b, room, "again")
    st = await b.wait(lambda s: s.tag == C("message") and s.get("type") == "error")
    if error_condition(st) != "forbidden":
        raise TestFailure("revoked voice still speaks: %s" % show(st))


async def test_voice_request(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", {"muc#roomconfig_moderatedroom": "1"})
    await join_ok(b, room, "bob")
    b.send("<message to='%s'>%s</message>" % (
        room, form_xml({"muc#role": "participant"}, form_type="http://jabber.org/protocol/muc#request")))
    st = await a.wait(lambda s: s.tag == C("message") and s.find("{%s}x" % NS_DATA) is not None,
                      what="voice request form")
    fields = {f.get("var"): f.findtext("{%s}value" % NS_DATA)
              for f in st.find("{%s}x" % NS_DATA).findall("{%s}field" % NS_DATA)}
    if fields.get("muc#roomnick") != "bob" or fields.get("muc#jid") != b.jid:
        raise TestFailure("§8.6 form: %s" % show(st))
    a.send("<message to='%s'>%s</message>" % (room, form_xml(
        {"muc#role": "participant", "muc#jid": b.jid, "muc#roomnick": "bob",
         "muc#request_allow": "true"}, form_type="http://jabber.org/protocol/muc#request")))
    await b.wait(lambda s: self_presence(room, "bob")(s) and item(s).get("role") == "participant",
                 what="voice granted")


async def test_moderator_list_and_grant(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice")
    await join_ok(b, room, "bob")
    await admin(b, room, "<item role='moderator'/>", type="get", expect="forbidden")
    await admin(a, room, "<item nick='bob' role='moderator'/>")
    st = await b.wait(lambda s: self_presence(room, "bob")(s) and item(s).get("role") == "moderator")
    reply = await admin(a, room, "<item role='moderator'/>", type="get")
    nicks = sorted(i.get("nick") for i in reply.find("{%s}query" % NS_ADMIN))
    if nicks != ["alice", "bob"]:
        raise TestFailure("moderator list: %s" % show(reply))
    # a new moderator of a semi-anonymous room learns real JIDs
    st = await b.wait(lambda s: s.get("from") == room + "/alice" and item(s) is not None and
                      item(s).get("jid") == a.jid, what="alice's presence with her JID")
    if st is None:
        raise TestFailure("unreachable")


async def test_kick_unknown_nick(srv):
    a = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice")
    await admin(a, room, "<item nick='ghost' role='none'/>", expect="item-not-found")
    await admin(a, room, "<item nick='alice' role='bogus'/>", expect="bad-request")


run_tests([
    test_kick,
    test_moderated_room_and_voice,
    test_voice_request,
    test_moderator_list_and_grant,
    test_kick_unknown_nick,
], srv=Server())
