#!/usr/bin/python3
"""02-limits: input limits and timeouts (limits.* in aldis.yaml).

Oversized stanzas, too-deep nesting and too many attributes end the stream
with <policy-violation/> (RFC 6120 §4.9.3.18); a connection that does not
finish TLS + SASL + bind within limits.handshake_timeout is closed; a bound
session silent for limits.idle_timeout is pinged (XEP-0199 §4.2) and closed
with <connection-timeout/> (RFC 6120 §4.9.3.4) when it does not answer
within limits.ping_timeout."""

import asyncio
import re
import time

from harness import RawClient, Server, TestFailure, run_tests, scaled

MAX_STANZA = 4096
MAX_DEPTH = 8
MAX_ATTRS = 8
HANDSHAKE = 2
IDLE = 10   # the smallest idle_timeout the server accepts
PING = 5    # the smallest ping_timeout

srv = Server(config={
    "limits.max_stanza_size": MAX_STANZA,
    "limits.max_depth": MAX_DEPTH,
    "limits.max_attrs": MAX_ATTRS,
    "limits.handshake_timeout": HANDSHAKE,
    "limits.idle_timeout": IDLE,
    "limits.ping_timeout": PING,
})


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def bound(srv):
    jid, pw = srv.new_user()
    r = RawClient(srv)
    r.login(jid, pw)
    return r


def is_result_or_error(reply):
    return re.search(r"type=['\"](result|error)['\"]", reply) is not None


async def test_stanza_below_limit_accepted(srv):
    r = bound(srv)
    pad = "x" * (MAX_STANZA - 600)
    reply = r.iq("<query xmlns='urn:aldis:test:nothing'>%s</query>" % pad, to=srv.domain)
    check(is_result_or_error(reply), "no reply to a %d-byte stanza" % len(pad))


async def test_oversized_stanza(srv):
    r = bound(srv)
    pad = "x" * (2 * MAX_STANZA)
    r.send("<message to='%s'><body>%s</body></message>" % (r.jid.split("/")[0], pad))
    r.expect_stream_error("policy-violation")


async def test_oversized_stanza_in_pieces(srv):
    # The limit counts the stanza, not one read: send it slowly.
    r = bound(srv)
    r.send("<message to='%s'><body>" % r.jid.split("/")[0])
    for _ in range(10):
        r.send("y" * (MAX_STANZA // 4))
        if r.read_for(0.05) and r.eof:
            break
    r.expect_stream_error("policy-violation")


async def test_oversized_before_auth(srv):
    # The limit holds before authentication too (a giant <auth/>).
    r = RawClient(srv)
    r.open()
    r.starttls()
    r.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>"
           % ("A" * (2 * MAX_STANZA)))
    r.expect_stream_error("policy-violation")


async def test_depth_at_limit_accepted(srv):
    # iq + query + (MAX_DEPTH - 2) nested elements = MAX_DEPTH levels.
    r = bound(srv)
    inner = "<a>" * (MAX_DEPTH - 2) + "</a>" * (MAX_DEPTH - 2)
    reply = r.iq("<query xmlns='urn:aldis:test:nothing'>%s</query>" % inner, to=srv.domain)
    check(is_result_or_error(reply), "no reply to a stanza %d deep" % MAX_DEPTH)


async def test_too_deep(srv):
    r = bound(srv)
    n = MAX_DEPTH * 4
    r.send("<message to='%s'><body>x</body><x xmlns='urn:aldis:test'>%s%s</x></message>"
           % (r.jid.split("/")[0], "<a>" * n, "</a>" * n))
    r.expect_stream_error("policy-violation")


async def test_attrs_at_limit_accepted(srv):
    r = bound(srv)
    attrs = " ".join("a%d='v'" % i for i in range(MAX_ATTRS - 1))  # + xmlns
    reply = r.iq("<query xmlns='urn:aldis:test:nothing' %s/>" % attrs, to=srv.domain)
    check(is_result_or_error(reply), "no reply to an element with %d attributes" % MAX_ATTRS)


async def test_too_many_attributes(srv):
    r = bound(srv)
    attrs = " ".join("a%d='v'" % i for i in range(MAX_ATTRS * 4))
    r.send("<message to='%s'><body %s>x</body></message>" % (r.jid.split("/")[0], attrs))
    r.expect_stream_error("policy-violation")


def _closed_after(r, start, what):
    """The server must close r between HANDSHAKE*0.7 and HANDSHAKE+slack
    seconds after start; a stream error, if any, must be connection-timeout."""
    slack = scaled(4)
    deadline = HANDSHAKE + slack
    cond = None
    while not r.eof and time.monotonic() - start < deadline:
        r._read_once(0.1)
        m = re.search(r"<stream:error>\s*<([\w-]+)", r.received)
        if m:
            cond = m.group(1)
    elapsed = time.monotonic() - start
    check(r.eof, "%s: still open %.1f s after connecting (handshake_timeout %d)" % (what, elapsed, HANDSHAKE))
    check(elapsed >= HANDSHAKE * 0.7, "%s: closed after %.1f s, before handshake_timeout %d"
          % (what, elapsed, HANDSHAKE))
    check(cond in (None, "connection-timeout", "policy-violation"),
          "%s: closed with <%s/>" % (what, cond))


async def test_handshake_timeout_silent(srv):
    # A connection that never sends a byte.
    start = time.monotonic()
    r = RawClient(srv)
    _closed_after(r, start, "silent connection")


async def test_handshake_timeout_after_header(srv):
    start = time.monotonic()
    r = RawClient(srv)
    r.open()
    _closed_after(r, start, "stream opened, no TLS")


async def test_handshake_timeout_before_bind(srv):
    # Authenticated but never bound: still a handshake.
    jid, pw = srv.new_user()
    start = time.monotonic()
    r = RawClient(srv)
    r.open()
    r.starttls()
    r.auth(jid, pw)
    _closed_after(r, start, "authenticated, not bound")


async def test_bound_session_outlives_handshake_timeout(srv):
    r = bound(srv)
    await asyncio.sleep(HANDSHAKE + 1.5)
    reply = r.roundtrip()
    check(is_result_or_error(reply), "bound session did not survive handshake_timeout")


async def test_idle_ping_and_timeout(srv):
    # Two silent sessions: one answers the server's ping and stays, the
    # other does not and is closed.
    answering = bound(srv)
    silent = bound(srv)
    start = time.monotonic()
    ping_re = r"<iq\b(?=[^>]*type=['\"]get['\"])[^>]*>\s*<ping xmlns=['\"]urn:xmpp:ping['\"]\s*/>\s*</iq>"
    window = IDLE + scaled(5)
    ping = await answering.aexpect(ping_re, timeout=window)
    waited = time.monotonic() - start
    check(waited >= IDLE * 0.7, "pinged after %.1f s of silence (idle_timeout %d)" % (waited, IDLE))
    attrs = dict(re.findall(r"([\w:]+)=['\"]([^'\"]*)['\"]", ping.group(0)))
    check(attrs.get("id"), "ping without id")
    check(attrs.get("to") in (None, answering.jid), "ping to=%r, want %r" % (attrs.get("to"), answering.jid))
    answering.send("<iq type='result' id='%s' to='%s'/>" % (attrs["id"], attrs.get("from", srv.domain)))
    await silent.aexpect(ping_re, timeout=scaled(3))
    # The silent one is closed once ping_timeout passes.
    deadline = time.monotonic() + PING + scaled(5)
    while not silent.eof and time.monotonic() < deadline:
        silent._read_once(0.01)
        await asyncio.sleep(0.05)
    check(silent.eof, "no close %.1f s after an unanswered ping (ping_timeout %d)"
          % (time.monotonic() - start, PING))
    m = re.search(r"<stream:error>\s*<([\w-]+)", silent.received)
    check(m is None or m.group(1) == "connection-timeout",
          "unanswered ping closed with <%s/>" % (m.group(1) if m else None))
    # The answering one is still there after its ping deadline.
    reply = answering.roundtrip()
    check(is_result_or_error(reply), "the session that answered the ping was closed")


if __name__ == "__main__":
    run_tests([
        test_stanza_below_limit_accepted, test_oversized_stanza, test_oversized_stanza_in_pieces,
        test_oversized_before_auth, test_depth_at_limit_accepted, test_too_deep,
        test_attrs_at_limit_accepted, test_too_many_attributes,
        test_handshake_timeout_silent, test_handshake_timeout_after_header,
        test_handshake_timeout_before_bind, test_bound_session_outlives_handshake_timeout,
        test_idle_ping_and_timeout,
    ], srv)
