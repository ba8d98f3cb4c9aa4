#!/usr/bin/python3
"""16-stream-management: XEP-0198 — enable, acks, resumption after a TCP
reset with stanzas in flight (every stanza delivered exactly once), the
resumption window, and unacknowledged messages never silently lost."""

import re
import socket
import struct
import time

import harness
from harness import RawClient, Server, TestFailure, run_tests

SM = "urn:xmpp:sm:3"
srv = Server(config={"c2s.sm_resume_timeout": 3})


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def reset(r):
    """Kill the TCP connection without a goodbye (RST)."""
    r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    r.sock.close()
    r.sock = None


def send_messages(sender, to, first, last):
    for i in range(first, last + 1):
        sender.send("<message to='%s' type='chat' id='m%d'><body>n%d</body></message>" % (to, i, i))
    sender.roundtrip()  # all of them have passed the server's input


def bodies(text):
    return [int(n) for n in re.findall(r"<body>n(\d+)</body>", text)]


def wait_bodies(r, want, timeout=5.0):
    """Bodies received on r's current stream (all of them, in order), once
    at least `want` have arrived or the time is up."""
    end = time.time() + harness.scaled(timeout)
    while time.time() < end and len(bodies(r.received)) < want:
        r.read_for(0.2)
    return bodies(r.received)


def enable(r, resume=True):
    r.send("<enable xmlns='%s'%s/>" % (SM, " resume='true'" if resume else ""))
    m = r.expect(r"<enabled\b[^>]*>")
    rid = re.search(r"id=['\"]([^'\"]+)['\"]", m.group(0))
    return rid.group(1) if rid else None


async def test_feature_and_acks(srv):
    jid, pw = srv.new_user()
    r = RawClient(srv)
    r.open()
    r.starttls()
    r.auth(jid, pw)
    check(re.search(r"<sm xmlns=['\"]%s['\"]" % SM, r.features), "no <sm/> feature: %s" % r.features)
    r.bind("acks")
    check(enable(r, resume=False) is None, "an id was given without resume")
    for i in range(3):
        r.send("<presence/>" if i == 0 else "<iq type='get' id='p%d' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>"
               % (i, srv.domain))
    r.send("<r xmlns='%s'/>" % SM)
    m = r.expect(r"<a xmlns=['\"]%s['\"] h=['\"](\d+)['\"]" % SM)
    check(m.group(1) == "3", "server counted %s stanzas, want 3" % m.group(1))
    r.close()


async def test_resume_after_reset_exactly_once(srv):
    jid, pw = srv.new_user()
    bob, bpw = srv.new_user()
    a = RawClient(srv)
    full = a.login(jid, pw, "phone")
    rid = enable(a)
    check(rid, "no resumption id")
    b = RawClient(srv)
    b.login(bob, bpw, "desk")
    send_messages(b, full, 1, 10)
    got = wait_bodies(a, 10)
    check(got == list(range(1, 11)), "before the reset got %r" % got)
    a.send("<a xmlns='%s' h='4'/>" % SM)  # the client handled 4 of them
    a.roundtrip()
    reset(a)
    time.sleep(harness.scaled(0.3))
    send_messages(b, full, 11, 15)  # while the session is detached
    a2 = RawClient(srv)
    a2.open()
    a2.starttls()
    a2.auth(jid, pw)
    a2.send("<resume xmlns='%s' previd='%s' h='4'/>" % (SM, rid))
    m = a2.expect(r"<(resumed|failed)\b[^>]*>")
    check(m.group(1) == "resumed", "resumption failed: %s" % m.group(0))
    got = wait_bodies(a2, 11)
    check(got == list(range(5, 16)), "after resuming got %r, want 5..15 exactly once" % got)
    send_messages(b, full, 16, 16)  # new traffic reaches the resumed session
    got = wait_bodies(a2, 12)
    check(got[-1] == 16 and got.count(16) == 1, "new message after resumption: %r" % got)
    a2.roundtrip()
    a2.close()
    b.close()


async def test_not_resumed_messages_go_offline(srv):
    jid, pw = srv.new_user()
    bob, bpw = srv.new_user()
    a = RawClient(srv)
    full = a.login(jid, pw, "lost")
    enable(a)
    b = RawClient(srv)
    b.login(bob, bpw, "desk")
    send_messages(b, full, 1, 3)
    check(wait_bodies(a, 3) == [1, 2, 3], "messages not delivered")
    reset(a)  # never acknowledged, never resumed
    time.sleep(harness.scaled(4.5))  # past c2s.sm_resume_timeout
    a2 = RawClient(srv)
    a2.login(jid, pw, "back")
    a2.send("<presence/>")
    got = wait_bodies(a2, 3)
    check(sorted(got) == [1, 2, 3], "unacknowledged messages lost: got %r" % got)
    a2.close()
    b.close()


async def test_unacked_on_plain_close_are_not_lost(srv):
    jid, pw = srv.new_user()
    bob, bpw = srv.new_user()
    other = RawClient(srv)
    other.login(jid, pw, "other")
    other.send("<presence/>")
    a = RawClient(srv)
    full = a.login(jid, pw, "closing")
    enable(a, resume=False)
    b = RawClient(srv)
    b.login(bob, bpw, "desk")
    send_messages(b, full, 1, 2)
    check(wait_bodies(a, 2) == [1, 2], "messages not delivered")
    reset(a)
    got = wait_bodies(other, 2)
    check(sorted(got) == [1, 2], "unacked messages not routed to the other resource: %r" % got)
    other.close()
    b.close()


async def test_bad_resume_and_bad_ack(srv):
    jid, pw = srv.new_user()
    r = RawClient(srv)
    r.open()
    r.starttls()
    r.auth(jid, pw)
    r.send("<resume xmlns='%s' previd='0-123-456' h='0'/>" % SM)
    m = r.expect(r"<failed\b.*?</failed>|<failed\b[^>]*/>")
    check("item-not-found" in m.group(0), "unknown previd: %s" % m.group(0))
    r.bind("after-failed")  # a failed resumption leaves the stream usable
    enable(r)
    r.send("<a xmlns='%s' h='7'/>" % SM)  # acknowledges stanzas never sent
    r.expect_stream_error("undefined-condition")


run_tests([test_feature_and_acks, test_resume_after_reset_exactly_once,
           test_not_resumed_messages_go_offline, test_unacked_on_plain_close_are_not_lost,
           test_bad_resume_and_bad_ack], srv)
