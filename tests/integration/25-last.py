#!/usr/bin/python3
"""25-last: mod_last (XEP-0012): server uptime at the domain (§5); for a
bare JID the time since the last resource went away and its status (§3),
0 while online, forbidden to those without a presence subscription."""

import asyncio
import xml.etree.ElementTree as ET

import harness
from harness import Server, TestFailure, connect, run_tests, wait_stanza
from slixmpp.exceptions import IqError

NS = "jabber:iq:last"
QUERY = "<query xmlns='%s'/>" % NS


iq = harness.send_iq  # an IQ with a raw payload; the reply, result or error


def last_of(reply):
    if reply["type"] != "result":
        raise TestFailure("expected a result, got %s" % reply)
    q = reply.xml.find("{%s}query" % NS)
    return int(q.get("seconds")), (q.text or "")


async def subscribed_pair(srv):
    """alice may see bob's presence (bob's roster: alice subscription from)."""
    abare, apw = srv.new_user("alice")
    bbare, bpw = srv.new_user("bob")
    a = await connect(srv, abare + "/res", apw)
    b = await connect(srv, bbare + "/res", bpw)
    a.send_presence(pto=bbare, ptype="subscribe")
    await wait_stanza(a, lambda s: s.name == "presence" and s["type"] == "subscribed")
    await asyncio.sleep(harness.scaled(0.3))
    return a, b, bbare, bpw


async def test_uptime(srv):
    bare, pw = srv.new_user("user")
    c = await connect(srv, bare + "/res", pw)
    secs, text = last_of(await iq(c, QUERY, to=srv.domain))
    if secs < 0 or secs > 3600 or text:
        raise TestFailure("uptime %d with text %r" % (secs, text))


async def test_online_is_zero(srv):
    a, b, bbare, _ = await subscribed_pair(srv)
    secs, _ = last_of(await iq(a, QUERY, to=bbare))
    if secs != 0:
        raise TestFailure("an online user has last activity %d (XEP-0012 §3: 0)" % secs)
    secs, _ = last_of(await iq(b, QUERY))
    if secs != 0:
        raise TestFailure("own last activity %d while online" % secs)


async def test_after_logout_with_status(srv):
    a, b, bbare, bpw = await subscribed_pair(srv)
    b.send_presence(ptype="unavailable", pstatus="Heading Home")
    await asyncio.sleep(harness.scaled(0.3))
    await harness.disconnect(b)
    await asyncio.sleep(harness.scaled(1.5))
    secs, text = last_of(await iq(a, QUERY, to=bbare))
    if not (1 <= secs <= 30):
        raise TestFailure("last activity %d s after a logout about 1.5 s ago" % secs)
    if text != "Heading Home":
        raise TestFailure("status %r, expected 'Heading Home'" % text)


async def test_forbidden_for_strangers(srv):
    abare, apw = srv.new_user("alice")
    bbare, bpw = srv.new_user("bob")
    a = await connect(srv, abare + "/res", apw)
    await connect(srv, bbare + "/res", bpw)
    r = await iq(a, QUERY, to=bbare)
    if r["type"] != "error" or r["error"]["condition"] != "forbidden":
        raise TestFailure("expected forbidden (XEP-0012 §3), got %s" % r)


if __name__ == "__main__":
    run_tests([test_uptime, test_online_is_zero, test_after_logout_with_status,
               test_forbidden_for_strangers], srv=Server())
