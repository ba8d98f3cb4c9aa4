#!/usr/bin/python3
"""26-vcard: mod_vcard (vcard-temp, XEP-0054): own vCard get/set, others'
vCards by bare JID, writes only by the owner, size bound (1 KiB here)."""

import xml.etree.ElementTree as ET

import harness
from harness import Server, TestFailure, connect, run_tests
from slixmpp.exceptions import IqError

NS = "vcard-temp"
MAX = 1024


iq = harness.send_iq  # an IQ with a raw payload; the reply, result or error


def expect(reply, kind, condition=None):
    if reply["type"] != kind or (condition and reply["error"]["condition"] != condition):
        raise TestFailure("expected %s %s, got %s" % (kind, condition or "", reply))
    return reply


def vcard_of(reply):
    v = reply.xml.find("{%s}vCard" % NS)
    if v is None:
        raise TestFailure("no <vCard/> in %s" % reply)
    return v


async def user(srv, prefix="user"):
    bare, pw = srv.new_user(prefix)
    return await connect(srv, bare + "/res", pw)


CARD = "<vCard xmlns='vcard-temp'><FN>Juliet Capulet</FN><NICKNAME>jc</NICKNAME></vCard>"


async def test_empty_then_set_then_get(srv):
    c = await user(srv)
    v = vcard_of(expect(await iq(c, "<vCard xmlns='vcard-temp'/>"), "result"))
    if len(list(v)):
        raise TestFailure("a new account has a non-empty vCard")
    expect(await iq(c, CARD, type="set"), "result")
    v = vcard_of(expect(await iq(c, "<vCard xmlns='vcard-temp'/>"), "result"))
    if v.findtext("{%s}FN" % NS) != "Juliet Capulet" or v.findtext("{%s}NICKNAME" % NS) != "jc":
        raise TestFailure("stored vCard differs: %s" % ET.tostring(v))
    # replaced whole
    expect(await iq(c, "<vCard xmlns='vcard-temp'><FN>J</FN></vCard>", type="set"), "result")
    v = vcard_of(expect(await iq(c, "<vCard xmlns='vcard-temp'/>", to=c.boundjid.bare), "result"))
    if v.find("{%s}NICKNAME" % NS) is not None or v.findtext("{%s}FN" % NS) != "J":
        raise TestFailure("vCard not replaced: %s" % ET.tostring(v))


async def test_others_read_not_write(srv):
    a = await user(srv, "alice")
    b = await user(srv, "bob")
    # bob has none yet: others get an error (XEP-0054, viewing another's vCard)
    expect(await iq(a, "<vCard xmlns='vcard-temp'/>", to=b.boundjid.bare), "error",
           "service-unavailable")
    expect(await iq(b, CARD, type="set"), "result")
    v = vcard_of(expect(await iq(a, "<vCard xmlns='vcard-temp'/>", to=b.boundjid.bare),
                        "result"))
    if v.findtext("{%s}FN" % NS) != "Juliet Capulet":
        raise TestFailure("another user's vCard: %s" % ET.tostring(v))
    expect(await iq(a, "<vCard xmlns='vcard-temp'><FN>Evil</FN></vCard>", type="set",
                    to=b.boundjid.bare), "error", "forbidden")
    v = vcard_of(expect(await iq(b, "<vCard xmlns='vcard-temp'/>"), "result"))
    if v.findtext("{%s}FN" % NS) != "Juliet Capulet":
        raise TestFailure("another user changed the vCard")


async def test_no_such_user(srv):
    a = await user(srv)
    expect(await iq(a, "<vCard xmlns='vcard-temp'/>", to="ghost@" + srv.domain), "error",
           "service-unavailable")


async def test_size_limit(srv):
    c = await user(srv)
    big = "<vCard xmlns='vcard-temp'><DESC>%s</DESC></vCard>" % ("x" * (MAX + 10))
    expect(await iq(c, big, type="set"), "error", "not-acceptable")
    v = vcard_of(expect(await iq(c, "<vCard xmlns='vcard-temp'/>"), "result"))
    if v.find("{%s}DESC" % NS) is not None:
        raise TestFailure("an oversized vCard was stored")


async def test_survives_restart(srv):
    bare, pw = srv.new_user("user")
    c = await connect(srv, bare + "/res", pw)
    expect(await iq(c, CARD, type="set"), "result")
    await harness.disconnect(c)
    srv.restart()
    c = await connect(srv, bare + "/res", pw)
    v = vcard_of(expect(await iq(c, "<vCard xmlns='vcard-temp'/>"), "result"))
    if v.findtext("{%s}FN" % NS) != "Juliet Capulet":
        raise TestFailure("vCard lost over a restart")


if __name__ == "__main__":
    run_tests([test_empty_then_set_then_get, test_others_read_not_write, test_no_such_user,
               test_size_limit, test_survives_restart],
              srv=Server(**{"modules.vcard.max_size": MAX}))
