#!/usr/bin/python3
"""08-shutdown: SIGTERM closes every stream properly (RFC 6120 §4.4: the
closing </stream:stream>, optionally after a <system-shutdown/> stream
error, §4.9.3.21) and the server exits 0; accounts persist across a
restart."""

import asyncio
import re
import time

import harness
from harness import RawClient, Server, TestFailure, connect, run_tests

srv = Server()


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def assert_closed_properly(r, what):
    check(r.closed(harness.scaled(5)), "%s: connection not closed after SIGTERM" % what)
    text = r.buf
    m = re.search(r"<stream:error>\s*<([\w-]+)", text)
    check(m is None or m.group(1) == "system-shutdown",
          "%s: closed with <%s/>, want system-shutdown or none" % (what, m.group(1) if m else None))
    check(re.search(r"</stream:stream>\s*$", text), "%s: no closing </stream:stream> before the close: %r"
          % (what, text[-200:]))


async def test_sigterm_closes_streams(srv):
    a, apw = srv.new_user()
    b, bpw = srv.new_user()
    bound1 = RawClient(srv)
    bound1.login(a, apw, "one")
    bound1.send("<presence/>")
    bound2 = RawClient(srv)
    bound2.login(b, bpw, "two")
    half = RawClient(srv)       # mid-negotiation: stream open, no TLS yet
    half.open()
    tls_only = RawClient(srv)   # TLS, not authenticated
    tls_only.open()
    tls_only.starttls()
    direct = RawClient(srv)     # direct TLS, authenticated
    direct.direct_tls()
    direct.auth(a, apw)
    direct.bind("three")
    client = await connect(srv, a + "/slix", apw)
    for r in (bound1, bound2, half, tls_only, direct):
        r.read_for(0.1)
        r.buf = ""
    start = time.monotonic()
    loop = asyncio.get_running_loop()
    stop = loop.run_in_executor(None, srv.stop)   # SIGTERM, checks exit 0 and the log
    for r, what in ((bound1, "bound session"), (bound2, "second bound session"),
                    (half, "unencrypted stream"), (tls_only, "TLS stream before auth"),
                    (direct, "direct TLS session")):
        assert_closed_properly(r, what)
    await stop
    took = time.monotonic() - start
    check(took < harness.scaled(10), "shutdown took %.1f s" % took)
    await harness.wait_disconnected(client)
    errs = [str(e) for e in client.h_stream_errors]
    check(all("system-shutdown" in e for e in errs), "slixmpp client got %s" % errs)
    # Data survives the restart: the same users log in again.
    srv.start()
    again = RawClient(srv)
    check(again.login(a, apw, "back") == a + "/back", "login after restart failed")
    c2 = await connect(srv, b + "/slix", bpw)
    check(str(c2.boundjid) == b + "/slix", "slixmpp login after restart")


async def test_restart_idle(srv):
    # A restart with nobody connected is clean too, and a user added while
    # the server was down can log in.
    srv.stop()
    jid, pw = srv.new_user()  # aldisctl on the stopped instance
    srv.start()
    r = RawClient(srv)
    r.login(jid, pw)


async def test_sigterm_during_sasl(srv):
    # A connection in the middle of SCRAM when SIGTERM arrives.
    jid, pw = srv.new_user()
    r = RawClient(srv)
    r.open()
    r.starttls()
    r.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>"
           "biwsbj11c2VyLHI9YWJjZGVmZ2hpamtsbW5vcA==</auth>")
    r.read_for(0.2)
    r.buf = ""
    loop = asyncio.get_running_loop()
    stop = loop.run_in_executor(None, srv.stop)
    assert_closed_properly(r, "stream in SASL")
    await stop
    srv.start()


if __name__ == "__main__":
    run_tests([test_sigterm_closes_streams, test_restart_idle, test_sigterm_during_sasl], srv)
