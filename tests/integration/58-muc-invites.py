#!/usr/bin/python3
"""58-muc-invites: XEP-0045 §7.8.2 mediated invitations (sent on by the
room with the inviter's JID, the reason and the password; declines sent
back), who may invite (allowinvites, members-only rooms, where the
invitee becomes a member), and XEP-0249 direct invitations, which are
plain messages between users that the server passes through."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, run_tests  # noqa: E402
from muc_util import (NS_USER, U, create, join_ok, new_room, occupant, show)  # noqa: E402
from roster_peer import C, error_condition  # noqa: E402


def invite_xml(room, to, reason="come"):
    return ("<message to='%s'><x xmlns='%s'><invite to='%s'><reason>%s</reason></invite></x></message>"
            % (room, NS_USER, to, reason))


def invitation(room):
    return lambda s: (s.tag == C("message") and s.get("from") == room and s.find(U("x")) is not None
                      and s.find(U("x")).find(U("invite")) is not None)


async def test_mediated_invite_and_decline(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", {"muc#roomconfig_passwordprotectedroom": "1",
                                    "muc#roomconfig_roomsecret": "pw"})
    a.send(invite_xml(room, b.bare, "tea?"))
    st = await b.wait(invitation(room), what="invitation")
    inv = st.find(U("x")).find(U("invite"))
    if inv.get("from") != a.jid or inv.findtext(U("reason")) != "tea?" or \
            st.find(U("x")).findtext(U("password")) != "pw":
        raise TestFailure("§7.8.2 invitation: %s" % show(st))
    b.send("<message to='%s'><x xmlns='%s'><decline to='%s'><reason>busy</reason></decline></x></message>"
           % (room, NS_USER, a.jid))
    st = await a.wait(lambda s: s.get("from") == room and s.find(U("x")) is not None and
                      s.find(U("x")).find(U("decline")) is not None, what="decline")
    d = st.find(U("x")).find(U("decline"))
    if d.get("from") != b.bare or d.findtext(U("reason")) != "busy":
        raise TestFailure("decline: %s" % show(st))


async def test_who_may_invite(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    c = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice")  # allowinvites defaults to off
    await join_ok(b, room, "bob")
    b.send(invite_xml(room, c.bare))
    st = await b.wait(lambda s: s.tag == C("message") and s.get("type") == "error")
    if error_condition(st) != "forbidden":
        raise TestFailure("participant invited: %s" % show(st))
    # a non-occupant may not invite
    c.send(invite_xml(room, b.bare))
    st = await c.wait(lambda s: s.tag == C("message") and s.get("type") == "error")
    if error_condition(st) != "not-acceptable":
        raise TestFailure("%s" % show(st))


async def test_members_only_invite_makes_member(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", {"muc#roomconfig_membersonly": "1"})
    a.send(invite_xml(room, b.bare))
    await b.wait(invitation(room))
    st = await join_ok(b, room, "bob")
    if st.find(U("x")).find(U("item")).get("affiliation") != "member":
        raise TestFailure("invitee not a member: %s" % show(st))


async def test_direct_invitation_passes(srv):
    a = await occupant(srv)
    b = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice")
    a.send("<message to='%s'><x xmlns='jabber:x:conference' jid='%s' reason='hi'/></message>"
           % (b.bare, room))
    st = await b.wait(lambda s: s.tag == C("message") and s.find("{jabber:x:conference}x") is not None)
    if st.find("{jabber:x:conference}x").get("jid") != room or st.get("from") != a.jid:
        raise TestFailure("XEP-0249: %s" % show(st))


run_tests([
    test_mediated_invite_and_decline,
    test_who_may_invite,
    test_members_only_invite_makes_member,
    test_direct_invitation_passes,
], srv=Server())
