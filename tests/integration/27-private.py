#!/usr/bin/python3
"""27-private: mod_private (XEP-0049): jabber:iq:private storage keyed by
element name and namespace, several elements per request, reserved
namespaces and empty queries refused (not-acceptable), other users
forbidden, size bound (2 KiB here)."""

import xml.etree.ElementTree as ET

import harness
from harness import Server, TestFailure, connect, run_tests
from slixmpp.exceptions import IqError

NS = "jabber:iq:private"
MAX = 2048


iq = harness.send_iq  # an IQ with a raw payload; the reply, result or error


def expect(reply, kind, condition=None):
    if reply["type"] != kind or (condition and reply["error"]["condition"] != condition):
        raise TestFailure("expected %s %s, got %s" % (kind, condition or "", reply))
    return reply


def query(inner):
    return "<query xmlns='%s'>%s</query>" % (NS, inner)


def children(reply):
    q = reply.xml.find("{%s}query" % NS)
    if q is None:
        raise TestFailure("no <query/> in %s" % reply)
    return list(q)


async def user(srv, prefix="user"):
    bare, pw = srv.new_user(prefix)
    return await connect(srv, bare + "/res", pw)


async def test_set_and_get(srv):
    c = await user(srv)
    expect(await iq(c, query("<exodus xmlns='exodus:prefs'><defaultnick>Hamlet</defaultnick>"
                             "</exodus>"), type="set"), "result")
    kids = children(expect(await iq(c, query("<exodus xmlns='exodus:prefs'/>")), "result"))
    if len(kids) != 1 or kids[0].findtext("{exodus:prefs}defaultnick") != "Hamlet":
        raise TestFailure("got %s" % [ET.tostring(k) for k in kids])


async def test_unknown_returns_the_empty_element(srv):
    c = await user(srv)
    kids = children(expect(await iq(c, query("<nothing xmlns='urn:example:none'/>")), "result"))
    if len(kids) != 1 or kids[0].tag != "{urn:example:none}nothing" or len(list(kids[0])):
        raise TestFailure("got %s" % [ET.tostring(k) for k in kids])


async def test_key_is_name_and_namespace(srv):
    c = await user(srv)
    expect(await iq(c, query("<a xmlns='urn:x:one'>1</a><b xmlns='urn:x:one'>2</b>"
                             "<a xmlns='urn:x:two'>3</a>"), type="set"), "result")
    kids = children(expect(await iq(c, query("<a xmlns='urn:x:two'/><a xmlns='urn:x:one'/>"
                                             "<b xmlns='urn:x:one'/>")), "result"))
    got = [(k.tag, k.text) for k in kids]
    want = [("{urn:x:two}a", "3"), ("{urn:x:one}a", "1"), ("{urn:x:one}b", "2")]
    if got != want:
        raise TestFailure("got %s, expected %s" % (got, want))
    # overwrite one key, the others stay
    expect(await iq(c, query("<a xmlns='urn:x:one'>9</a>"), type="set"), "result")
    kids = children(expect(await iq(c, query("<a xmlns='urn:x:one'/><b xmlns='urn:x:one'/>")),
                           "result"))
    if [(k.tag, k.text) for k in kids] != [("{urn:x:one}a", "9"), ("{urn:x:one}b", "2")]:
        raise TestFailure("after overwrite: %s" % [(k.tag, k.text) for k in kids])


async def test_refusals(srv):
    c = await user(srv)
    expect(await iq(c, query(""), type="get"), "error", "not-acceptable")
    expect(await iq(c, query(""), type="set"), "error", "not-acceptable")
    for ns in ("jabber:client", "jabber:server", NS):
        expect(await iq(c, query("<x xmlns='%s'/>" % ns), type="set"), "error", "not-acceptable")
        expect(await iq(c, query("<x xmlns='%s'/>" % ns)), "error", "not-acceptable")
    # a child without its own namespace is in jabber:iq:private: refused
    expect(await iq(c, "<query xmlns='%s'><x/></query>" % NS, type="set"), "error",
           "not-acceptable")


async def test_other_users_forbidden(srv):
    a = await user(srv, "alice")
    b = await user(srv, "bob")
    expect(await iq(b, query("<s xmlns='urn:x:secret'>bob's</s>"), type="set"), "result")
    for kind in ("get", "set"):
        expect(await iq(a, query("<s xmlns='urn:x:secret'/>"), type=kind, to=b.boundjid.bare),
               "error", "forbidden")
    kids = children(expect(await iq(b, query("<s xmlns='urn:x:secret'/>")), "result"))
    if kids[0].text != "bob's":
        raise TestFailure("another user changed private data")


async def test_size_limit(srv):
    c = await user(srv)
    big = query("<big xmlns='urn:x:big'>%s</big>" % ("y" * (MAX + 10)))
    expect(await iq(c, big, type="set"), "error", "not-acceptable")
    kids = children(expect(await iq(c, query("<big xmlns='urn:x:big'/>")), "result"))
    if kids[0].text:
        raise TestFailure("oversized data was stored")


if __name__ == "__main__":
    run_tests([test_set_and_get, test_unknown_returns_the_empty_element,
               test_key_is_name_and_namespace, test_refusals, test_other_users_forbidden,
               test_size_limit], srv=Server(**{"modules.private.max_size": MAX}))
