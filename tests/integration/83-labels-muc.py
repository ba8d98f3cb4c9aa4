#!/usr/bin/python3
"""83-labels-muc: security labels in rooms (XEP-0045 with XEP-0258 §5.2):
a room's clearance (set with `aldisctl room clearance`, read at startup) is
its ceiling: entering needs a clearance covering it, a groupchat message (or
subject) labelled above it is refused with <forbidden/> and reaches nobody;
private messages are checked per recipient occupant; a room without a
clearance accepts only content at the policy's lowest level."""

import asyncio
import secrets
import xml.etree.ElementTree as ET

import harness
from harness import Server, TestFailure, connect, run_tests
from labels_util import NS_STANZAS, catalog, pick, user
from muc_util import codes, configure, join, new_room
from roster_peer import Peer

srv = Server()
ROOMS = {}


def tok():
    return "r-" + secrets.token_hex(5)


def carries(el, token):
    return token in ET.tostring(el, encoding="unicode")


async def peer(bare, pw, res="r"):
    p = await Peer.login(srv, bare, pw, res)
    await p.online()
    return p


async def enter(p, room, nick):
    st = await join(p, room, nick)
    if st.get("type") != "error" and 201 in codes(st):
        await configure(p, room)
    return st


def condition(st):
    err = st.find("{jabber:client}error")
    if err is None:
        return None
    for c in err:
        if c.tag.startswith("{%s}" % NS_STANZAS) and not c.tag.endswith("}text"):
            return c.tag.split("}")[1]
    return None


async def labels(bare, pw):
    c = await connect(srv, bare + "/cat", pw)
    items = await catalog(c, srv.domain, bare)
    await harness.disconnect(c)
    return {k: pick(items, k) for k in ("SECRET", "CONFIDENTIAL")}


async def test_setup_rooms(srv):
    """Room clearances are read at startup: set them, then restart."""
    ROOMS["secret"] = new_room(srv, "sec")
    ROOMS["conf"] = new_room(srv, "conf")
    ROOMS["plain"] = new_room(srv, "plain")
    srv.ctl("room", "clearance", ROOMS["secret"], "--classification", "SECRET")
    srv.ctl("room", "clearance", ROOMS["conf"], "--classification", "CONFIDENTIAL")
    out = srv.ctl("room", "clearance", ROOMS["conf"], "--show").stdout
    if "CONFIDENTIAL" not in out:
        raise TestFailure("room clearance not stored: %s" % out)
    await asyncio.get_running_loop().run_in_executor(None, srv.restart)


async def test_entry_needs_covering_clearance(srv):
    a, apw = user(srv, "alice", "SECRET")
    c, cpw = user(srv, "carol", "CONFIDENTIAL")
    alice, carol = await peer(a, apw), await peer(c, cpw)
    st = await enter(alice, ROOMS["secret"], "alice")
    if st.get("type") == "error":
        raise TestFailure("a SECRET user could not enter the SECRET room: %s" % ET.tostring(st))
    st = await join(carol, ROOMS["secret"], "carol")
    if st.get("type") != "error" or condition(st) != "forbidden":
        raise TestFailure("a CONFIDENTIAL user entered the SECRET room: %s" % ET.tostring(st))
    # and the lower room is open to both
    for p, nick in ((alice, "alice"), (carol, "carol")):
        st = await enter(p, ROOMS["conf"], nick)
        if st.get("type") == "error":
            raise TestFailure("%s could not enter the CONFIDENTIAL room" % nick)


async def test_message_above_ceiling_refused(srv):
    a, apw = user(srv, "alice", "SECRET")
    b, bpw = user(srv, "bob", "SECRET")
    lab = await labels(a, apw)
    alice, bob = await peer(a, apw), await peer(b, bpw)
    room = ROOMS["conf"]
    await enter(alice, room, "alice2")
    await enter(bob, room, "bob2")
    t, mid = tok(), tok()
    alice.send("<message to='%s' type='groupchat' id='%s'><body>%s</body>%s</message>"
               % (room, mid, t, lab["SECRET"]))
    err = await alice.wait(lambda s: s.get("id") == mid and s.get("type") == "error",
                           what="error for a message above the ceiling")
    if condition(err) != "forbidden":
        raise TestFailure("expected <forbidden/>, got %s" % ET.tostring(err))
    await bob.none(lambda s: carries(s, t), wait=0.5, what="content above the room's ceiling")
    # at the ceiling it flows
    t2 = tok()
    alice.send("<message to='%s' type='groupchat'><body>%s</body>%s</message>"
               % (room, t2, lab["CONFIDENTIAL"]))
    await bob.wait(lambda s: carries(s, t2), what="a message at the room's ceiling")
    # a labelled subject change above the ceiling is refused too
    t3, mid3 = tok(), tok()
    alice.send("<message to='%s' type='groupchat' id='%s'><subject>%s</subject>%s</message>"
               % (room, mid3, t3, lab["SECRET"]))
    await bob.none(lambda s: carries(s, t3), wait=0.5, what="a subject above the ceiling")


async def test_room_without_clearance_takes_lowest(srv):
    a, apw = user(srv, "alice", "SECRET")
    lab = await labels(a, apw)
    alice = await peer(a, apw)
    room = ROOMS["plain"]
    await enter(alice, room, "alice3")
    t, mid = tok(), tok()
    alice.send("<message to='%s' type='groupchat' id='%s'><body>%s</body>%s</message>"
               % (room, mid, t, lab["CONFIDENTIAL"]))
    err = await alice.wait(lambda s: s.get("id") == mid and s.get("type") == "error",
                           what="error for a labelled message in an unlabelled room")
    if condition(err) != "forbidden":
        raise TestFailure("expected <forbidden/>, got %s" % ET.tostring(err))


async def test_private_message_checked_per_occupant(srv):
    a, apw = user(srv, "alice", "SECRET")
    b, bpw = user(srv, "bob", "SECRET")
    c, cpw = user(srv, "carol", "CONFIDENTIAL")
    lab = await labels(a, apw)
    alice, bob, carol = await peer(a, apw), await peer(b, bpw), await peer(c, cpw)
    room = ROOMS["conf"]
    await enter(alice, room, "alice4")
    await enter(bob, room, "bob4")
    await enter(carol, room, "carol4")
    t = tok()
    for nick in ("bob4", "carol4"):
        alice.send("<message to='%s/%s' type='chat'><body>%s</body>%s</message>"
                   % (room, nick, t, lab["SECRET"]))
    await bob.wait(lambda s: carries(s, t), what="a SECRET private message")
    await carol.none(lambda s: carries(s, t), wait=0.5,
                     what="a SECRET private message to a CONFIDENTIAL occupant")


if __name__ == "__main__":
    run_tests([test_setup_rooms, test_entry_needs_covering_clearance,
               test_message_above_ceiling_refused, test_room_without_clearance_takes_lowest,
               test_private_message_checked_per_occupant], srv)
