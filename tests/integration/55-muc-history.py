#!/usr/bin/python3
"""55-muc-history: XEP-0045 §7.2.15: the discussion history sent on
entering, after the self-presence and before the subject, each message
with an XEP-0203 delay from the room; the limits a newcomer asks for
(maxstanzas, maxchars, seconds, since; more than the room has) and the
room's own history length."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, run_tests  # noqa: E402
from muc_util import (NS_DELAY, NS_SID, create, groupchat, is_groupchat, join_ok,  # noqa: E402
                      new_room, occupant, show)
from roster_peer import C  # noqa: E402


async def room_with_history(srv, n, fields=None):
    a = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", fields)
    for i in range(n):
        groupchat(a, room, "m%d" % i)
    for i in range(n):
        await a.wait(lambda s: is_groupchat(s, body="m%d" % i))
    return a, room


async def history_of(srv, room, inner="", nick="bob"):
    b = await occupant(srv)
    await join_ok(b, room, nick, inner)
    return b, [s for s in b.all if s.tag == C("message") and s.find(C("body")) is not None]


async def test_history_default(srv):
    a, room = await room_with_history(srv, 3)
    b, hist = await history_of(srv, room)
    if [h.findtext(C("body")) for h in hist] != ["m0", "m1", "m2"]:
        raise TestFailure("history: %s" % [show(h) for h in hist])
    for h in hist:
        d = h.find("{%s}delay" % NS_DELAY)
        if d is None or d.get("from") != room or not d.get("stamp") or h.get("from") != room + "/alice":
            raise TestFailure("§7.2.15 delay: %s" % show(h))
        if h.find("{%s}stanza-id" % NS_SID) is None:
            raise TestFailure("history without the stanza-id: %s" % show(h))
    # order: self-presence, history, subject
    kinds = [("p" if s.tag == C("presence") else "s" if s.find(C("subject")) is not None else "m")
             for s in b.all if s.get("from", "").startswith(room)]
    if kinds[-4:] != ["p", "m", "m", "m"] + [] and kinds[-5:] != ["p", "m", "m", "m", "s"]:
        raise TestFailure("order: %s" % kinds)


async def test_maxstanzas_and_over_limit(srv):
    a, room = await room_with_history(srv, 4)
    _, hist = await history_of(srv, room, "<history maxstanzas='2'/>")
    if [h.findtext(C("body")) for h in hist] != ["m2", "m3"]:
        raise TestFailure("maxstanzas=2: %s" % [h.findtext(C("body")) for h in hist])
    # asking for more than there is gives everything
    _, hist = await history_of(srv, room, "<history maxstanzas='1000'/>", "carol")
    if len(hist) != 4:
        raise TestFailure("maxstanzas=1000: %d messages" % len(hist))
    _, hist = await history_of(srv, room, "<history maxchars='0'/>", "dave")
    if hist:
        raise TestFailure("maxchars=0 sent history")


async def test_maxchars(srv):
    a, room = await room_with_history(srv, 3)
    _, hist = await history_of(srv, room, "<history maxchars='1000000'/>")
    if len(hist) != 3:
        raise TestFailure("maxchars large: %d" % len(hist))
    # one message is a few hundred characters: 500 lets one or two through
    _, hist = await history_of(srv, room, "<history maxchars='500'/>", "carol")
    if not 1 <= len(hist) < 3 or hist[-1].findtext(C("body")) != "m2":
        raise TestFailure("maxchars=500: %s" % [h.findtext(C("body")) for h in hist])


async def test_seconds_and_since(srv):
    a, room = await room_with_history(srv, 2)
    _, hist = await history_of(srv, room, "<history seconds='3600'/>")
    if len(hist) != 2:
        raise TestFailure("seconds=3600: %d" % len(hist))
    _, hist = await history_of(srv, room, "<history since='2999-01-01T00:00:00Z'/>", "carol")
    if hist:
        raise TestFailure("since in the future sent history")
    _, hist = await history_of(srv, room, "<history since='2000-01-01T00:00:00.000+01:00'/>", "dave")
    if len(hist) != 2:
        raise TestFailure("since long ago: %d" % len(hist))


async def test_room_history_length(srv):
    a, room = await room_with_history(srv, 5, {"muc#maxhistoryfetch": "2"})
    _, hist = await history_of(srv, room)
    if [h.findtext(C("body")) for h in hist] != ["m3", "m4"]:
        raise TestFailure("history length 2: %s" % [h.findtext(C("body")) for h in hist])


run_tests([
    test_history_default,
    test_maxstanzas_and_over_limit,
    test_maxchars,
    test_seconds_and_since,
    test_room_history_length,
], srv=Server())
