#!/usr/bin/python3
"""66-muc-room-limits: the options max_rooms_per_user and
max_rooms_per_service, counted by the service's directory (so across
workers): a user over the limit gets policy-violation creating another
room, locked rooms count, a destroyed room frees its place, other users
and existing rooms are unaffected, and the service total holds for
everyone."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, run_tests  # noqa: E402
from muc_util import NS_OWNER, create, join, join_ok, new_room, occupant, show  # noqa: E402
from roster_peer import error_condition  # noqa: E402

PER_USER = 2
PER_SERVICE = 6


async def test_per_user(srv):
    a, b = await occupant(srv), await occupant(srv)
    r1, r2, r3 = new_room(srv), new_room(srv), new_room(srv)
    await create(a, r1, "alice")
    # a locked room counts too
    st = await join(a, r2, "alice")
    if st.get("type") == "error":
        raise TestFailure("second room refused: %s" % show(st))
    st = await join(a, r3, "alice")
    if error_condition(st) != "policy-violation":
        raise TestFailure("third room of one user: %s" % show(st))
    # entering someone else's room is not creating one
    await join_ok(b, r1, "bob")
    # destroying one frees its place
    reply = await a.iq("<query xmlns='%s'><destroy/></query>" % NS_OWNER, type="set", to=r2)
    if reply.get("type") != "result":
        raise TestFailure("destroy: %s" % show(reply))
    await create(a, r3, "alice")
    # another user has their own count
    await create(b, new_room(srv), "bob")

    # the service: 3 rooms now (r1, r3, bob's); fill it up
    users = [await occupant(srv) for _ in range(3)]
    await create(users[0], new_room(srv), "u0")
    await create(users[1], new_room(srv), "u1")
    await create(users[2], new_room(srv), "u2")
    st = await join(users[2], new_room(srv), "u2")
    if error_condition(st) != "policy-violation":
        raise TestFailure("over the service's limit: %s" % show(st))


run_tests([
    test_per_user,
], srv=Server(**{"modules.muc.max_rooms_per_user": PER_USER,
                 "modules.muc.max_rooms_per_service": PER_SERVICE}))
