#!/usr/bin/python3
"""24-ping: mod_ping (XEP-0199): pings to the domain, and to a bare JID
answered for the account only to the user and to presence subscribers."""

import asyncio
import xml.etree.ElementTree as ET

import harness
from harness import Server, TestFailure, connect, run_tests, wait_stanza
from slixmpp.exceptions import IqError

PING = "<ping xmlns='urn:xmpp:ping'/>"


iq = harness.send_iq  # an IQ with a raw payload; the reply, result or error


def expect(reply, kind, condition=None):
    if reply["type"] != kind or (condition and reply["error"]["condition"] != condition):
        raise TestFailure("expected %s %s, got %s" % (kind, condition or "", reply))


async def user(srv, prefix="user"):
    bare, pw = srv.new_user(prefix)
    return await connect(srv, bare + "/res", pw)


async def test_ping_server(srv):
    c = await user(srv)
    r = await iq(c, PING, to=srv.domain)
    expect(r, "result")
    if len(list(r.xml)):
        raise TestFailure("a pong has no payload (XEP-0199 §4.2): %s" % r)


async def test_ping_own_bare_jid(srv):
    c = await user(srv)
    expect(await iq(c, PING, to=c.boundjid.bare), "result")
    expect(await iq(c, PING), "result")


async def test_ping_strangers_and_ghosts(srv):
    a = await user(srv, "alice")
    b = await user(srv, "bob")
    expect(await iq(a, PING, to=b.boundjid.bare), "error", "service-unavailable")
    expect(await iq(a, PING, to="ghost@" + srv.domain), "error", "service-unavailable")


async def test_ping_subscribed_contact(srv):
    a = await user(srv, "alice")
    b = await user(srv, "bob")
    a.send_presence(pto=b.boundjid.bare, ptype="subscribe")
    await wait_stanza(a, lambda s: s.name == "presence" and s["type"] == "subscribed")
    await asyncio.sleep(harness.scaled(0.3))
    expect(await iq(a, PING, to=b.boundjid.bare), "result")


if __name__ == "__main__":
    run_tests([test_ping_server, test_ping_own_bare_jid, test_ping_strangers_and_ghosts,
               test_ping_subscribed_contact], srv=Server())
