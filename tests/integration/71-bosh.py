#!/usr/bin/python3
"""71-bosh: XMPP over BOSH (XEP-0124 + XEP-0206) at /http-bind on the same
c2s machinery: session creation with features, SCRAM, restart, bind; chat
with a TCP client both ways (a held request is answered when a message
arrives); 'wait' answered empty; rid checks (replay answered from the
cache, far-ahead rid refused); unknown sid; terminate; bad bodies; a BOSH
session that ends by inactivity (a lost client) resumed with stream
management in a new BOSH session, nothing lost."""

import asyncio
import re
import time

from harness import Server, TestFailure, connect, run_tests, wait_stanza
from http_util import BoshClient, NS_HTTPBIND, request, wait_http

INACTIVITY = 5
srv = Server(config={"http.bosh_inactivity": INACTIVITY})


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def test_session_creation(srv):
    wait_http(srv)
    b = BoshClient(srv)
    feats = b.create()
    check("SCRAM-SHA-256" in feats, "features: %s" % feats)
    check("<starttls" not in feats and "-PLUS" not in feats, "features: %s" % feats)
    # over HTTPS: still no -PLUS (BOSH spans connections: no channel binding)
    b2 = BoshClient(srv, tls=True)
    feats = b2.create()
    check("SCRAM-SHA-256" in feats and "-PLUS" not in feats, "https features: %s" % feats)


def test_login_and_chat_with_tcp(srv):
    a, apw = srv.new_user("boshal")
    b, bpw = srv.new_user("tcpbo")
    bosh = BoshClient(srv, wait=5)
    bosh.create()
    bosh.auth(a, apw)
    full = bosh.bind("web")
    check(full == a + "/web", "bound %s" % full)

    async def chat():
        bob = await connect(srv, b + "/desk", bpw)
        loop = asyncio.get_running_loop()
        # a held request, answered when bob's message arrives
        t0 = time.monotonic()
        fut = loop.run_in_executor(None, bosh.until, r"<message\b.*?</message>")
        await asyncio.sleep(0.5)
        bob.send_message(mto=a + "/web", mbody="hello bosh", mtype="chat")
        m = await fut
        check("hello bosh" in m.group(0), "got %s" % m.group(0))
        check("jabber:client" in m.group(0), "not qualified: %s" % m.group(0))
        check(time.monotonic() - t0 < 4.5, "the held request was not answered early")
        await loop.run_in_executor(None, bosh.post,
                                   "<message to='%s/desk' type='chat' xmlns='jabber:client'>"
                                   "<body>hello tcp</body></message>" % b)
        got = await wait_stanza(bob, lambda s: s.name == "message" and s["body"] == "hello tcp")
        check(str(got["from"]) == a + "/web", "from %s" % got["from"])
        status, text = await loop.run_in_executor(None, bosh.terminate)
        check(status == 200, "terminate: %s" % status)
    return chat()


def test_sm_resumption_after_inactivity(srv):
    a, apw = srv.new_user("boshsm")
    b, bpw = srv.new_user("boshsmpeer")
    bosh = BoshClient(srv, wait=2)
    text = bosh.create()
    check("inactivity='%d'" % INACTIVITY in text, "inactivity not announced: %s" % text[:300])
    bosh.auth(a, apw)
    bosh.bind("r1")
    bosh.post("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
    m = bosh.until(r"<enabled\b[^>]*/>")
    previd = re.search(r"\bid='([^']+)'", m.group(0))
    check(previd, "no resumption id: %s" % m.group(0))

    async def rest():
        # the client goes silent: the BOSH session ends after 'inactivity'
        await asyncio.sleep(INACTIVITY + 1.5)
        loop = asyncio.get_running_loop()
        status, text = await loop.run_in_executor(None, bosh.post)
        check(status != 200 or "type='terminate'" in text,
              "BOSH session still alive after inactivity: %s %s" % (status, text))
        bob = await connect(srv, b + "/x", bpw)
        bob.send_message(mto=a + "/r1", mbody="while you were away", mtype="chat")
        await asyncio.sleep(0.3)
        b2 = BoshClient(srv, wait=2)
        await loop.run_in_executor(None, b2.create)
        await loop.run_in_executor(None, b2.auth, a, apw)
        await loop.run_in_executor(None, b2.post,
                                   "<resume xmlns='urn:xmpp:sm:3' previd='%s' h='0'/>"
                                   % previd.group(1))
        r = await loop.run_in_executor(None, b2.until, r"<(resumed|failed)\b[^>]*/?>")
        check(r.group(1) == "resumed", "resume: %s" % r.group(0))
        msg = await loop.run_in_executor(None, b2.until, r"<message\b[^>]*>.*?</message>")
        check("while you were away" in msg.group(0), "after resume: %s" % msg.group(0))
        await loop.run_in_executor(None, b2.post,
                                   "<message to='%s/x' type='chat' xmlns='jabber:client'>"
                                   "<body>back</body></message>" % b)
        got = await wait_stanza(bob, lambda s: s.name == "message" and s["body"] == "back")
        check(str(got["from"]) == a + "/r1", "from %s" % got["from"])
        await loop.run_in_executor(None, b2.terminate)
    return rest()


def test_wait_answers_empty(srv):
    bosh = BoshClient(srv, wait=2)
    bosh.create()
    t0 = time.monotonic()
    status, text = bosh.post()
    took = time.monotonic() - t0
    check(status == 200 and re.match(r"<body[^>]*/>$", text), "empty answer: %s" % text)
    check(1.5 < took < 5, "held %.1f s for wait=2" % took)


def test_rid_rules(srv):
    bosh = BoshClient(srv, wait=1)
    bosh.create()
    rid = bosh.rid
    # the same rid again: the cached answer (§14.3)
    status, again = bosh.post_rid(rid)
    check(status == 200 and "sid=" in again, "replayed creation answer: %s" % again)
    # far ahead: refused, the session ends (§14.1)
    status, text = bosh.post_rid(rid + 50)
    check("type='terminate'" in text and "item-not-found" in text, "far rid: %s" % text)
    status, text = bosh.post()
    check("item-not-found" in text, "session survived: %s" % text)


def test_unknown_sid_and_bad_bodies(srv):
    bosh = BoshClient(srv)
    bosh.sid = "0-" + "ab" * 16
    status, text = bosh.post()
    check("type='terminate'" in text and "item-not-found" in text, "unknown sid: %s" % text)
    bosh.sid = "99999-x"
    status, text = bosh.post()
    check("item-not-found" in text, "bad worker: %s" % text)
    for body in (b"garbage", b"<body xmlns='wrong'/>", b"<body rid='1' xmlns='%s'" % NS_HTTPBIND.encode()):
        status, _, _ = request(srv, "POST", "/http-bind", body=body)
        check(status == 400, "%r answered %s" % (body, status))
    status, _, text = request(srv, "POST", "/http-bind",
                              body=b"<body rid='x' xmlns='%s'/>" % NS_HTTPBIND.encode())
    check(b"bad-request" in text, "bad rid: %r" % text)
    status, _, _ = request(srv, "GET", "/http-bind")
    check(status == 405, "GET answered %s" % status)
    status, h, _ = request(srv, "OPTIONS", "/http-bind")
    check(status == 200 and "POST" in h.get("access-control-allow-methods", ""), "OPTIONS %s %s" % (status, h))


def test_unknown_host(srv):
    bosh = BoshClient(srv)
    status, text = bosh.post(attrs=" to='nowhere.example' wait='5' hold='1' xmpp:version='1.0'")
    check("type='terminate'" in text and "host-unknown" in text, "unknown host: %s" % text)


if __name__ == "__main__":
    run_tests([test_session_creation, test_login_and_chat_with_tcp,
               test_sm_resumption_after_inactivity, test_wait_answers_empty,
               test_rid_rules, test_unknown_sid_and_bad_bodies, test_unknown_host], srv)
