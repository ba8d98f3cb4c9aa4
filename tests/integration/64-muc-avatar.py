#!/usr/bin/python3
"""64-muc-avatar: XEP-0486 room avatars: an owner sets the room's
vcard-temp with a PHOTO; anyone reads it at the room's JID; the room's
disco#info has the vcard-temp feature and muc#roominfo_avatarhash (the
SHA-1 of the image); occupants get a 104 notice; the avatar survives a
restart; removing the photo removes the hash. Errors: a non-owner setting
it (forbidden), a photo that is not base64 and a vCard over
max_vcard_size (not-acceptable)."""

import asyncio
import base64
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, run_tests  # noqa: E402
from muc_util import (NS_DATA, NS_DISCO_INFO, PERSISTENT, codes, create, join_ok,  # noqa: E402
                      new_room, occupant, show)
from roster_peer import C, error_condition  # noqa: E402

NS_VCARD = "vcard-temp"
IMAGE = bytes(range(256)) * 3
MAX_VCARD = 4096


def vcard_xml(data, wrap=False):
    b64 = base64.b64encode(data).decode()
    if wrap:
        b64 = "\n".join(b64[i:i + 76] for i in range(0, len(b64), 76))
    return ("<vCard xmlns='%s'><PHOTO><TYPE>image/png</TYPE><BINVAL>%s</BINVAL></PHOTO></vCard>"
            % (NS_VCARD, b64))


async def roominfo(p, room):
    reply = await p.iq("<query xmlns='%s'/>" % NS_DISCO_INFO, to=room)
    feats = {f.get("var") for f in reply.iter("{%s}feature" % NS_DISCO_INFO)}
    hashes = []
    for f in reply.iter("{%s}field" % NS_DATA):
        if f.get("var") == "muc#roominfo_avatarhash":
            hashes += [v.text for v in f.findall("{%s}value" % NS_DATA)]
    return feats, hashes


async def test_set_get_and_hash(srv):
    a, b = await occupant(srv), await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice", PERSISTENT)
    await join_ok(b, room, "bob")
    feats, hashes = await roominfo(b, room)
    if NS_VCARD not in feats or hashes:
        raise TestFailure("before: features %s, hashes %s" % (feats, hashes))
    reply = await a.iq(vcard_xml(IMAGE, wrap=True), type="set", to=room)
    if reply.get("type") != "result":
        raise TestFailure("setting the vCard: %s" % show(reply))
    await b.wait(lambda s: s.tag == C("message") and s.get("from") == room and 104 in codes(s),
                 what="104 after the avatar changed")
    outsider = await occupant(srv)
    feats, hashes = await roominfo(outsider, room)
    if hashes != [hashlib.sha1(IMAGE).hexdigest()]:
        raise TestFailure("avatar hash %s" % hashes)
    reply = await outsider.iq("<vCard xmlns='%s'/>" % NS_VCARD, to=room)
    binval = reply.findtext("{%s}vCard/{%s}PHOTO/{%s}BINVAL" % (NS_VCARD, NS_VCARD, NS_VCARD))
    if reply.get("type") != "result" or base64.b64decode(binval or "") != IMAGE:
        raise TestFailure("reading the vCard: %s" % show(reply)[:300])
    # survives a restart
    a.close()
    b.close()
    await asyncio.sleep(0.3)
    srv.restart()
    c = await occupant(srv)
    _, hashes = await roominfo(c, room)
    if hashes != [hashlib.sha1(IMAGE).hexdigest()]:
        raise TestFailure("avatar hash after restart: %s" % hashes)


async def test_remove_photo(srv):
    a = await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice")
    await a.iq(vcard_xml(b"png"), type="set", to=room)
    reply = await a.iq("<vCard xmlns='%s'><FN>Just a name</FN></vCard>" % NS_VCARD, type="set", to=room)
    if reply.get("type") != "result":
        raise TestFailure("vCard without photo: %s" % show(reply))
    _, hashes = await roominfo(a, room)
    if hashes:
        raise TestFailure("hash after removing the photo: %s" % hashes)


async def test_errors(srv):
    a, b = await occupant(srv), await occupant(srv)
    room = new_room(srv)
    await create(a, room, "alice")
    await join_ok(b, room, "bob")
    reply = await b.iq(vcard_xml(b"x"), type="set", to=room)
    if error_condition(reply) != "forbidden":
        raise TestFailure("non-owner: %s" % show(reply))
    reply = await a.iq("<vCard xmlns='%s'><PHOTO><BINVAL>!!not base64</BINVAL></PHOTO></vCard>"
                       % NS_VCARD, type="set", to=room)
    if error_condition(reply) != "not-acceptable":
        raise TestFailure("bad base64: %s" % show(reply))
    reply = await a.iq(vcard_xml(os.urandom(MAX_VCARD)), type="set", to=room)
    if error_condition(reply) != "not-acceptable":
        raise TestFailure("over max_vcard_size: %s" % show(reply))
    _, hashes = await roominfo(a, room)
    if hashes:
        raise TestFailure("a refused vCard changed the hash: %s" % hashes)


run_tests([
    test_set_get_and_hash,
    test_remove_photo,
    test_errors,
], srv=Server(**{"modules.muc.max_vcard_size": MAX_VCARD}))
