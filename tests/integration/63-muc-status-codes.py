#!/usr/bin/python3
"""63-muc-status-codes: the XEP-0045 status codes this service adds to the
earlier tests' (110, 100, 201, 104, 172/173, 301, 303, 307, 321, 322,
333): 101 (an affiliation changed while the user is not in the room, by
message), 170 (entering a logged room) and 170/171 (logging switched on or
off), 210 (the service changed the nick). And the owner form's remaining
fields: muc#roomconfig_roomowners / _roomadmins (the full lists),
_presencebroadcast, _getmemberlist, _pubsub; and muc#unique (§10.1.4)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, run_tests  # noqa: E402
from muc_util import (NS_ADMIN, NS_DATA, NS_MUC, NS_OWNER, NS_REGISTER, PERSISTENT, U,  # noqa: E402
                      admin, codes, configure, create, form_xml, item, join_ok, new_room,
                      occupant, self_presence, service, show)
from roster_peer import C  # noqa: E402


def room_message_with(room, code):
    return lambda s: s.tag == C("message") and s.get("from") == room and code in codes(s)


async def test_101_affiliation_while_away(srv):
    a, d = await occupant(srv), await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", PERSISTENT)
    await admin(a, room, "<item jid='%s' affiliation='member'><reason>welcome</reason></item>" % d.bare)
    m = await d.wait(room_message_with(room, 101), what="status 101")
    it = item(m)
    if it is None or it.get("affiliation") != "member" or it.get("jid") != d.bare:
        raise TestFailure("101 item: %s" % show(m))
    # an occupant hears of it by presence instead, without 101
    await join_ok(d, room, "dave")
    d.forget()
    await admin(a, room, "<item jid='%s' affiliation='admin'/>" % d.bare)
    st = await d.wait(self_presence(room, "dave"), what="presence with the new affiliation")
    if item(st).get("affiliation") != "admin":
        raise TestFailure("new affiliation: %s" % show(st))
    await d.none(room_message_with(room, 101), wait=0.5, what="101 to an occupant")


async def test_170_171(srv):
    a, b = await occupant(srv), await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", PERSISTENT)
    st = await join_ok(b, room, "bob")
    if 170 not in codes(st):
        raise TestFailure("170 entering: %s" % show(st))
    await configure(a, room, {"muc#roomconfig_enablelogging": "0"})
    await b.wait(room_message_with(room, 171), what="status 171")
    await configure(a, room, {"muc#roomconfig_enablelogging": "1"})
    await b.wait(room_message_with(room, 170), what="status 170")
    # not logged: no 170 on entering
    temp = new_room(srv)
    await create(a, temp, "alice")
    st = await join_ok(b, temp, "bob")
    if 170 in codes(st):
        raise TestFailure("170 entering an unlogged room: %s" % show(st))


async def test_210_registered_nick(srv):
    a, b = await occupant(srv), await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", PERSISTENT)
    reply = await b.iq("<query xmlns='%s'>%s</query>" % (
        NS_REGISTER, form_xml({"muc#register_roomnick": "robert"}, form_type=NS_MUC + "#register")),
        type="set", to=room)
    if reply.get("type") != "result":
        raise TestFailure("register: %s" % show(reply))
    b.send("<presence to='%s/bob'><x xmlns='%s'/></presence>" % (room, NS_MUC))
    st = await b.wait(self_presence(room, "robert"), what="self-presence under the registered nick")
    if 210 not in codes(st) or 110 not in codes(st):
        raise TestFailure("210: %s" % show(st))


async def test_owner_and_admin_lists(srv):
    a, b, c = await occupant(srv), await occupant(srv), await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", PERSISTENT)
    await configure(a, room, {"muc#roomconfig_roomowners": [a.bare, b.bare],
                              "muc#roomconfig_roomadmins": [c.bare]})
    reply = await admin(a, room, "<item affiliation='owner'/>", type="get")
    owners = {i.get("jid") for i in reply.iter("{%s}item" % NS_ADMIN)}
    reply = await admin(a, room, "<item affiliation='admin'/>", type="get")
    admins = {i.get("jid") for i in reply.iter("{%s}item" % NS_ADMIN)}
    if owners != {a.bare, b.bare} or admins != {c.bare}:
        raise TestFailure("lists: owners %s admins %s" % (owners, admins))
    # the form shows them
    reply = await a.iq("<query xmlns='%s'/>" % NS_OWNER, to=room)
    fields = {f.get("var"): {v.text for v in f.findall("{%s}value" % NS_DATA)}
              for f in reply.iter("{%s}field" % NS_DATA)}
    if fields.get("muc#roomconfig_roomowners") != {a.bare, b.bare} or \
            fields.get("muc#roomconfig_roomadmins") != {c.bare}:
        raise TestFailure("form lists: %s" % fields)
    for var in ("muc#roomconfig_presencebroadcast", "muc#roomconfig_getmemberlist",
                "muc#roomconfig_enablelogging"):
        if var not in fields:
            raise TestFailure("no %s in the form" % var)
    # replacing: b no longer an owner, the admin list emptied
    await configure(a, room, {"muc#roomconfig_roomowners": [a.bare],
                              "muc#roomconfig_roomadmins": []})
    reply = await admin(a, room, "<item affiliation='owner'/>", type="get")
    if {i.get("jid") for i in reply.iter("{%s}item" % NS_ADMIN)} != {a.bare}:
        raise TestFailure("owners after replacing: %s" % show(reply))
    # a room without owners is refused, and so are malformed JIDs
    await configure(a, room, {"muc#roomconfig_roomowners": []}, expect="not-acceptable")
    await configure(a, room, {"muc#roomconfig_roomadmins": ["not a jid@@"]}, expect="not-acceptable")
    await configure(a, room, {"muc#roomconfig_presencebroadcast": ["none"]}, expect="not-acceptable")


async def test_pubsub_field(srv):
    a = await occupant(srv)
    room = new_room(srv)
    node = "xmpp:pubsub.%s?;node=room-feed" % srv.domain
    await create(a, room, "alice", dict(PERSISTENT, **{"muc#roomconfig_pubsub": node}))
    reply = await a.iq("<query xmlns='http://jabber.org/protocol/disco#info'/>", to=room)
    values = [f.findtext("{%s}value" % NS_DATA) for f in reply.iter("{%s}field" % NS_DATA)
              if f.get("var") == "muc#roominfo_pubsub"]
    if values != [node]:
        raise TestFailure("muc#roominfo_pubsub: %s" % show(reply))
    await configure(a, room, {"muc#roomconfig_pubsub": "http://not-xmpp"}, expect="not-acceptable")


async def test_presence_broadcast(srv):
    a, b, v = await occupant(srv), await occupant(srv), await occupant(srv)
    room = new_room(srv)
    # moderated: newcomers without affiliation are visitors
    await create(a, room, "alice", dict(PERSISTENT, **{
        "muc#roomconfig_moderatedroom": "1",
        "muc#roomconfig_presencebroadcast": ["moderator", "participant"]}))
    await admin(a, room, "<item jid='%s' affiliation='member'/>" % b.bare)
    await join_ok(b, room, "bob")
    a.forget()
    b.forget()
    st = await join_ok(v, room, "visitor")
    if item(st).get("role") != "visitor":
        raise TestFailure("not a visitor: %s" % show(st))
    # the visitor sees the others, the others do not see the visitor
    seen = {s.get("from") for s in v.all if s.tag == C("presence")}
    if room + "/alice" not in seen or room + "/bob" not in seen:
        raise TestFailure("visitor did not get the occupants: %s" % seen)
    v.send("<presence to='%s/visitor' type='unavailable'/>" % room)
    await v.wait(self_presence(room, "visitor", type="unavailable"), what="leaving")
    for p in (a, b):
        await p.none(lambda s: s.tag == C("presence") and s.get("from") == room + "/visitor",
                     wait=0.5, what="a visitor's presence")


async def test_get_member_list(srv):
    a, b, m = await occupant(srv), await occupant(srv), await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", PERSISTENT)
    await admin(a, room, "<item jid='%s' affiliation='member'/>" % m.bare)
    await join_ok(b, room, "bob")
    await admin(b, room, "<item affiliation='member'/>", type="get", expect="forbidden")
    await configure(a, room, {"muc#roomconfig_getmemberlist": ["moderator", "participant"]})
    reply = await admin(b, room, "<item affiliation='member'/>", type="get")
    if {i.get("jid") for i in reply.iter("{%s}item" % NS_ADMIN)} != {m.bare}:
        raise TestFailure("member list for a participant: %s" % show(reply))
    # the ban list stays the admins'
    await admin(b, room, "<item affiliation='outcast'/>", type="get", expect="forbidden")


async def test_unique(srv):
    a = await occupant(srv)
    names = set()
    for _ in range(2):
        reply = await a.iq("<unique xmlns='%s#unique'/>" % NS_MUC, to=service(srv))
        name = reply.findtext("{%s#unique}unique" % NS_MUC)
        if reply.get("type") != "result" or not name:
            raise TestFailure("muc#unique: %s" % show(reply))
        names.add(name)
    if len(names) != 2:
        raise TestFailure("the same unique name twice: %s" % names)
    # and it makes a room
    room = "%s@%s" % (names.pop(), service(srv))
    await create(a, room, "alice")


run_tests([
    test_101_affiliation_while_away,
    test_170_171,
    test_210_registered_nick,
    test_owner_and_admin_lists,
    test_pubsub_field,
    test_presence_broadcast,
    test_get_member_list,
    test_unique,
], srv=Server())
