#!/usr/bin/python3
"""67-muc-pins: pinned messages in rooms (urn:aldis:pin:0, docs/modules/
muc.md): the room advertises the feature; a moderator pins a message by
its stanza-id and every occupant gets the bodiless announcement with the
new list; a participant reads the list but may not pin or unpin
(forbidden); a non-occupant of a members-only room may not read it; an id
the room's archive does not hold is item-not-found; unpinning; a retracted
message (XEP-0425) leaves the list; pins survive a restart; at most 50."""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, run_tests  # noqa: E402
from muc_util import (NS_CLIENT, NS_MODERATE, NS_RETRACT, PERSISTENT, create,  # noqa: E402
                      features, join_ok, mam_form, mam_query, new_room, occupant, say, show)
from roster_peer import C, Peer, error_condition  # noqa: E402

NS_PIN = "urn:aldis:pin:0"
NS_HINTS = "urn:xmpp:hints"


def P(name):
    return "{%s}%s" % (NS_PIN, name)


async def pin(p, room, sid, verb="pin"):
    return await p.iq("<%s xmlns='%s' id='%s'/>" % (verb, NS_PIN, sid), type="set", to=room)


async def pins_of(p, room, expect="result"):
    """The room's pins as [(id, by)], or the error condition."""
    reply = await p.iq("<pins xmlns='%s'/>" % NS_PIN, to=room)
    if expect != "result":
        if error_condition(reply) != expect:
            raise TestFailure("pins get: expected <%s/>, got %s" % (expect, show(reply)))
        return None
    lst = reply.find(P("pins"))
    if reply.get("type") != "result" or lst is None:
        raise TestFailure("pins get failed: %s" % show(reply))
    out = []
    for e in lst.findall(P("pin")):
        if not e.get("at") or not e.get("at").endswith("Z"):
            raise TestFailure("pin without an XEP-0082 stamp: %s" % show(reply))
        out.append((e.get("id"), e.get("by")))
    return out


def is_announcement(room, ids=None):
    def pred(s):
        lst = s.find(P("pins"))
        if (s.tag != C("message") or s.get("from") != room or s.get("type") != "groupchat"
                or lst is None):
            return False
        return ids is None or [e.get("id") for e in lst.findall(P("pin"))] == ids
    return pred


async def setup(srv, fields=PERSISTENT):
    a, b = await occupant(srv), await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", fields)
    await join_ok(b, room, "bob")
    return a, b, room


async def test_pin_announce_list(srv):
    a, b, room = await setup(srv)
    if NS_PIN not in await features(b, room):
        raise TestFailure("urn:aldis:pin:0 not advertised")
    if await pins_of(b, room) != []:
        raise TestFailure("a new room has pins")
    s1 = await say(b, room, "first")
    s2 = await say(b, room, "second")
    reply = await pin(a, room, s2)
    if reply.get("type") != "result":
        raise TestFailure("pin refused: %s" % show(reply))
    for p in (a, b):
        m = await p.wait(is_announcement(room, [s2]), what="the pin announcement")
        if m.find(C("body")) is not None:
            raise TestFailure("announcement with a body: %s" % show(m))
        if m.find("{%s}no-store" % NS_HINTS) is None:
            raise TestFailure("announcement without <no-store/>: %s" % show(m))
    reply = await pin(a, room, s1)
    if reply.get("type") != "result":
        raise TestFailure("second pin refused: %s" % show(reply))
    await b.wait(is_announcement(room, [s2, s1]), what="the second announcement")
    if await pins_of(b, room) != [(s2, "alice"), (s1, "alice")]:
        raise TestFailure("list seen by a participant: %s" % await pins_of(b, room))
    # a late joiner gets the same list
    c = await occupant(srv)
    await join_ok(c, room, "carol")
    if [i for i, _ in await pins_of(c, room)] != [s2, s1]:
        raise TestFailure("late joiner's list")
    # pinning again changes nothing and announces nothing
    b.forget()
    reply = await pin(a, room, s1)
    if reply.get("type") != "result":
        raise TestFailure("pinning twice: %s" % show(reply))
    await b.none(is_announcement(room), wait=0.4, what="announcement of a repeated pin")
    # unpin
    reply = await pin(a, room, s2, "unpin")
    if reply.get("type") != "result":
        raise TestFailure("unpin refused: %s" % show(reply))
    await b.wait(is_announcement(room, [s1]), what="the unpin announcement")
    reply = await pin(a, room, s2, "unpin")
    if error_condition(reply) != "item-not-found":
        raise TestFailure("unpinning what is not pinned: %s" % show(reply))


async def test_refusals(srv):
    a, b, room = await setup(srv)
    sid = await say(a, room, "owner's words")
    b.forget()
    reply = await pin(b, room, sid)
    if error_condition(reply) != "forbidden":
        raise TestFailure("participant pinning: %s" % show(reply))
    outsider = await occupant(srv)
    reply = await pin(outsider, room, sid)
    if error_condition(reply) != "forbidden":
        raise TestFailure("non-occupant pinning: %s" % show(reply))
    await b.none(is_announcement(room), wait=0.4, what="announcement after a refusal")
    if await pins_of(a, room) != []:
        raise TestFailure("refused pin is in the list")
    reply = await pin(a, room, sid)
    if reply.get("type") != "result":
        raise TestFailure("pin: %s" % show(reply))
    reply = await pin(b, room, sid, "unpin")
    if error_condition(reply) != "forbidden":
        raise TestFailure("participant unpinning: %s" % show(reply))
    # the archive does not hold this id
    reply = await pin(a, room, "no-such-stanza-id")
    if error_condition(reply) != "item-not-found":
        raise TestFailure("unknown id: %s" % show(reply))
    reply = await pin(a, room, "x" * 200)
    if error_condition(reply) != "bad-request":
        raise TestFailure("over-long id: %s" % show(reply))
    reply = await a.iq("<pin xmlns='%s'/>" % NS_PIN, type="set", to=room)
    if error_condition(reply) != "bad-request":
        raise TestFailure("pin without id: %s" % show(reply))
    # an open room's list is public; a members-only room's is not
    await pins_of(outsider, room)
    closed = new_room(srv)
    await create(a, closed, "alice", dict(PERSISTENT, **{"muc#roomconfig_membersonly": "1"}))
    await pins_of(outsider, closed, expect="forbidden")
    await pins_of(a, closed)


async def test_archived_message_and_retraction(srv):
    """A message no longer in the room's history is found in its archive;
    a message retracted by a moderator is unpinned and cannot be pinned."""
    a, b = await occupant(srv), await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", dict(PERSISTENT, **{"muc#maxhistoryfetch": "1"}))
    old = await say(a, room, "old")
    await say(a, room, "newer")  # pushes "old" out of the history
    reply = await pin(a, room, old)
    if reply.get("type") != "result":
        raise TestFailure("pinning an archived message: %s" % show(reply))
    await a.wait(is_announcement(room, [old]))
    # what a client does to show the pin: the room's archive by id
    results, _ = await mam_query(a, room, form=mam_form({"ids": [old]}))
    if [i for i, _ in results] != [old] or results[0][1].findtext("{%s}body" % NS_CLIENT) != "old":
        raise TestFailure("pinned message by id from the archive: %s" % results)
    reply = await a.iq("<moderate xmlns='%s' id='%s'><retract xmlns='%s'/></moderate>"
                       % (NS_MODERATE, old, NS_RETRACT), type="set", to=room)
    if reply.get("type") != "result":
        raise TestFailure("retraction: %s" % show(reply))
    await a.wait(is_announcement(room, []), what="unpinned by the retraction")
    reply = await pin(a, room, old)
    if error_condition(reply) != "item-not-found":
        raise TestFailure("pinning a retracted message: %s" % show(reply))


async def test_limit(srv):
    a, b, room = await setup(srv)
    sids = []
    for i in range(51):
        sids.append(await say(a, room, "m%d" % i))
    for i, sid in enumerate(sids[:50]):
        reply = await pin(a, room, sid)
        if reply.get("type") != "result":
            raise TestFailure("pin %d refused: %s" % (i, show(reply)))
    reply = await pin(a, room, sids[50])
    if error_condition(reply) != "policy-violation":
        raise TestFailure("51st pin: %s" % show(reply))
    got = await pins_of(b, room)
    if [i for i, _ in got] != sids[:50]:
        raise TestFailure("list at the limit: %d pins" % len(got))
    # unpinning one makes room again
    await pin(a, room, sids[0], "unpin")
    reply = await pin(a, room, sids[50])
    if reply.get("type") != "result":
        raise TestFailure("pin after an unpin at the limit: %s" % show(reply))


async def test_survive_restart(srv):
    a, b, room = await setup(srv)
    s1 = await say(b, room, "keep me")
    s2 = await say(b, room, "and me")
    for sid in (s1, s2):
        reply = await pin(a, room, sid)
        if reply.get("type") != "result":
            raise TestFailure("pin: %s" % show(reply))
    await pin(a, room, s1, "unpin")
    await pin(a, room, s1)
    await b.wait(is_announcement(room, [s2, s1]))
    a.close()
    b.close()
    await asyncio.sleep(0.3)
    srv.restart()
    q = await Peer.login(srv, b.bare, b.password)
    await q.online()
    await join_ok(q, room, "bob")
    got = await pins_of(q, room)
    if got != [(s2, "alice"), (s1, "alice")]:
        raise TestFailure("pins after a restart: %s" % got)


run_tests([
    test_pin_announce_list,
    test_refusals,
    test_archived_message_and_retraction,
    test_limit,
    test_survive_restart,
], srv=Server())
