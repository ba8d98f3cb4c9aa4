#!/usr/bin/python3
"""61-muc-moderation-retract: XEP-0425 (urn:xmpp:message-moderate:1,
v0.3): a moderator retracts an occupant's message by its stanza-id; every
occupant gets the XEP-0424 <retract/> from the room with <moderated by>
and the moderator's occupant-id and the reason; the archive keeps a
tombstone in the message's place (same id, no body) and the retraction
notice; newcomers' history no longer has it. Errors: a participant or a
non-occupant asking is forbidden, an unknown id item-not-found, a request
without <retract/> bad-request."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, run_tests  # noqa: E402
from muc_util import (NS_CLIENT, NS_MODERATE, NS_OID, NS_RETRACT, PERSISTENT, create,  # noqa: E402
                      features, join_ok, mam_query, new_room, occupant, say, show)
from roster_peer import C, error_condition  # noqa: E402


def moderate_xml(sid, reason=None, retract=True):
    inner = "<retract xmlns='%s'/>" % NS_RETRACT if retract else ""
    if reason:
        inner += "<reason>%s</reason>" % reason
    return "<moderate xmlns='%s' id='%s'>%s</moderate>" % (NS_MODERATE, sid, inner)


def is_retraction(room, sid):
    def pred(s):
        r = s.find("{%s}retract" % NS_RETRACT)
        return (s.tag == C("message") and s.get("from") == room and s.get("type") == "groupchat"
                and r is not None and r.get("id") == sid)
    return pred


async def setup(srv):
    a, b = await occupant(srv), await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", PERSISTENT)
    await join_ok(b, room, "bob")
    return a, b, room


async def test_moderator_retracts(srv):
    a, b, room = await setup(srv)
    if NS_MODERATE not in await features(a, room):
        raise TestFailure("urn:xmpp:message-moderate:1 not advertised")
    keep = await say(b, room, "fine")
    sid = await say(b, room, "spam spam")
    await a.wait(lambda s: s.findtext(C("body")) == "spam spam")
    reply = await a.iq(moderate_xml(sid, "Off topic"), type="set", to=room)
    if reply.get("type") != "result":
        raise TestFailure("moderation refused: %s" % show(reply))
    for p in (a, b):
        m = await p.wait(is_retraction(room, sid), what="the retraction")
        r = m.find("{%s}retract" % NS_RETRACT)
        mod = r.find("{%s}moderated" % NS_MODERATE)
        if mod is None or mod.get("by") != room + "/alice":
            raise TestFailure("<moderated by>: %s" % show(m))
        if mod.find("{%s}occupant-id" % NS_OID) is None:
            raise TestFailure("no occupant-id of the moderator: %s" % show(m))
        if r.findtext("{%s}reason" % NS_RETRACT) != "Off topic":
            raise TestFailure("reason: %s" % show(m))
    # the archive: a tombstone in the same place, then the notice
    results, _ = await mam_query(a, room)
    ids = [i for i, _ in results]
    if ids[:2] != [keep, sid] or len(results) != 3:
        raise TestFailure("archive ids after retraction: %s" % ids)
    tomb = results[1][1]
    rd = tomb.find("{%s}retracted" % NS_RETRACT)
    if tomb.find("{%s}body" % NS_CLIENT) is not None or rd is None or not rd.get("stamp"):
        raise TestFailure("tombstone: %s" % show(tomb))
    if rd.find("{%s}moderated" % NS_MODERATE) is None:
        raise TestFailure("tombstone without <moderated/>: %s" % show(tomb))
    if results[2][1].find("{%s}retract" % NS_RETRACT) is None:
        raise TestFailure("the retraction notice is not archived: %s" % show(results[2][1]))
    # newcomers do not get it in the history
    c = await occupant(srv)
    await join_ok(c, room, "carol")
    hist = [s.findtext(C("body")) for s in c.all if s.find(C("body")) is not None]
    if "spam spam" in hist or "fine" not in hist:
        raise TestFailure("history after retraction: %s" % hist)
    # retracting it again: it is gone
    reply = await a.iq(moderate_xml(sid), type="set", to=room)
    if error_condition(reply) != "item-not-found":
        raise TestFailure("second retraction: %s" % show(reply))


async def test_not_a_moderator(srv):
    a, b, room = await setup(srv)
    sid = await say(a, room, "owner's words")
    reply = await b.iq(moderate_xml(sid), type="set", to=room)
    if error_condition(reply) != "forbidden":
        raise TestFailure("participant moderating: %s" % show(reply))
    outsider = await occupant(srv)
    reply = await outsider.iq(moderate_xml(sid), type="set", to=room)
    if error_condition(reply) != "forbidden":
        raise TestFailure("non-occupant moderating: %s" % show(reply))
    # nothing was retracted
    results, _ = await mam_query(a, room)
    if results[0][1].findtext("{%s}body" % NS_CLIENT) != "owner's words":
        raise TestFailure("message changed: %s" % show(results[0][1]))
    await b.none(is_retraction(room, sid), wait=0.5, what="retraction after a refusal")


async def test_bad_requests(srv):
    a, b, room = await setup(srv)
    sid = await say(b, room, "hello")
    reply = await a.iq(moderate_xml("no-such-stanza-id"), type="set", to=room)
    if error_condition(reply) != "item-not-found":
        raise TestFailure("unknown id: %s" % show(reply))
    reply = await a.iq(moderate_xml(sid, retract=False), type="set", to=room)
    if error_condition(reply) != "bad-request":
        raise TestFailure("without <retract/>: %s" % show(reply))
    reply = await a.iq("<moderate xmlns='%s'><retract xmlns='%s'/></moderate>"
                       % (NS_MODERATE, NS_RETRACT), type="set", to=room)
    if error_condition(reply) != "bad-request":
        raise TestFailure("without an id: %s" % show(reply))
    reply = await a.iq(moderate_xml(sid, "x" * 2000), type="set", to=room)
    if error_condition(reply) != "not-acceptable":
        raise TestFailure("over-long reason: %s" % show(reply))


async def test_temporary_room_history(srv):
    # no archive: the message is found in the history and retracted there
    a, b = await occupant(srv), await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice")
    await join_ok(b, room, "bob")
    sid = await say(b, room, "oops")
    reply = await a.iq(moderate_xml(sid), type="set", to=room)
    if reply.get("type") != "result":
        raise TestFailure("moderation in a temporary room: %s" % show(reply))
    await b.wait(is_retraction(room, sid), what="the retraction")
    c = await occupant(srv)
    await join_ok(c, room, "carol")
    if any(s.findtext(C("body")) == "oops" for s in c.all):
        raise TestFailure("retracted message still in the history")


run_tests([
    test_moderator_retracts,
    test_not_a_moderator,
    test_bad_requests,
    test_temporary_room_history,
], srv=Server())
