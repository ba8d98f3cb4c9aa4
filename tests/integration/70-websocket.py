#!/usr/bin/python3
"""70-websocket: XMPP over WebSocket (RFC 7395) at /xmpp-websocket on the
same c2s machinery as TCP: the handshake and subprotocol, self-contained
messages (§3.3.3), SCRAM (with channel binding over HTTPS), chat with a TCP
client both ways, stream management resumption, <close/>, framing errors."""

import re

import harness
from harness import Server, TestFailure, connect, run_tests, wait_stanza
from http_util import NS_FRAMING, WsClient, request, wait_http

srv = Server()


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def test_handshake_needs_xmpp_subprotocol(srv):
    wait_http(srv)
    ws = WsClient(srv)
    check(ws.status == 101, "upgrade refused: %s" % ws.status)
    check(ws.http_headers.get("sec-websocket-protocol") == "xmpp",
          "subprotocol %r" % ws.http_headers.get("sec-websocket-protocol"))
    ws.close()
    # RFC 7395 §3.2: without "xmpp" the upgrade fails
    bad = WsClient(srv, protocol=None)
    check(bad.status != 101, "upgrade without the xmpp subprotocol was accepted")
    bad.close()
    bad = WsClient(srv, protocol="chat")
    check(bad.status != 101, "upgrade with another subprotocol was accepted")
    bad.close()
    # only /xmpp-websocket upgrades
    bad = WsClient(srv, path="/other")
    check(bad.status != 101, "upgrade on another path was accepted")
    bad.close()
    status, _, _ = request(srv, "GET", "/xmpp-websocket")
    check(status == 426, "plain GET /xmpp-websocket answered %s" % status)


def test_open_features_self_contained(srv):
    ws = WsClient(srv)
    feats = ws.open()
    check(ws.header.get("xmlns") == NS_FRAMING, "open: %s" % ws.header_text)
    check(ws.header.get("from") == srv.domain and ws.header.get("id"), "open: %s" % ws.header_text)
    check("xmlns:stream='http://etherx.jabber.org/streams'" in feats, "features: %s" % feats)
    check("<starttls" not in feats, "STARTTLS offered over WebSocket: %s" % feats)
    check("SCRAM-SHA-256" in feats and "-PLUS" not in feats and "PLAIN" not in feats,
          "plain-HTTP mechanisms: %s" % feats)
    # every message is one complete element
    for m in ws.messages:
        check(m.count("<") >= 1 and (m.endswith("/>") or m.endswith(">")), "message %r" % m)
    ws.close()


def test_login_scram_and_chat_with_tcp(srv):
    a, apw = srv.new_user("wsalice")
    b, bpw = srv.new_user("tcpbob")
    ws = WsClient(srv)
    full = ws.login(a, apw, resource="browser")
    check(full == a + "/browser", "bound %s" % full)
    # stanzas carry jabber:client (RFC 7395 §3.3.3)
    reply = ws.roundtrip()
    check("xmlns='jabber:client'" in reply or 'xmlns="jabber:client"' in reply, "reply %s" % reply)

    async def chat():
        bob = await connect(srv, b + "/desk", bpw)
        bob.send_message(mto=a + "/browser", mbody="hello over tcp", mtype="chat")
        m = await ws.aexpect(r"<message\b[^>]*>.*?</message>")
        check("hello over tcp" in m.group(0), "ws got %s" % m.group(0))
        check("xmlns='jabber:client'" in m.group(0), "message not self-contained: %s" % m.group(0))
        ws.send("<message to='%s/desk' type='chat'><body>hello over websocket</body></message>" % b)
        got = await wait_stanza(bob, lambda s: s.name == "message" and s["body"])
        check(got["body"] == "hello over websocket", "bob got %s" % got)
        check(str(got["from"]) == a + "/browser", "from %s" % got["from"])
    return chat()


def test_scram_plus_over_https(srv):
    u, pw = srv.new_user("wsplus")
    ws = WsClient(srv, tls=True)
    check(ws.status == 101, "wss upgrade: %s" % ws.status)
    feats = ws.open()
    check("SCRAM-SHA-256-PLUS" in feats, "no -PLUS over HTTPS: %s" % feats)
    ws.auth(u, pw, "SCRAM-SHA-256-PLUS")
    full = ws.bind("tls")
    check(full == u + "/tls", "bound %s" % full)
    ws.roundtrip()
    # a wrong binding is refused
    ws2 = WsClient(srv, tls=True)
    ws2.open()
    cond = ws2.auth(u, pw, "SCRAM-SHA-256-PLUS", check=False, cb_data=b"\0" * 32)
    check(cond == "not-authorized", "bad channel binding: %s" % cond)
    ws.close()
    ws2.close()


def test_close_is_answered(srv):
    u, pw = srv.new_user("wsclose")
    ws = WsClient(srv)
    ws.login(u, pw)
    ws.close_stream()
    ws.expect(r"<close xmlns='%s'/>" % NS_FRAMING)
    check(ws.closed(), "connection stays open after <close/>")


def test_sm_resumption_over_websocket(srv):
    a, apw = srv.new_user("wssm")
    b, bpw = srv.new_user("wssmpeer")
    ws = WsClient(srv)
    ws.login(a, apw, resource="r1")
    ws.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
    m = ws.expect(r"<enabled\b[^>]*/>")
    previd = harness._attrs(m.group(0)).get("id")
    check(previd, "no resumption id: %s" % m.group(0))
    ws.close()  # the connection dies without <close/>

    async def rest():
        bob = await connect(srv, b + "/x", bpw)
        bob.send_message(mto=a + "/r1", mbody="while you were away", mtype="chat")
        import asyncio
        await asyncio.sleep(0.5)
        ws2 = WsClient(srv)
        ws2.open()
        ws2.auth(a, apw, "SCRAM-SHA-256")
        ws2.send("<resume xmlns='urn:xmpp:sm:3' previd='%s' h='0'/>" % previd)
        r = await ws2.aexpect(r"<(resumed|failed)\b[^>]*/?>")
        check(r.group(1) == "resumed", "resume: %s" % r.group(0))
        msg = await ws2.aexpect(r"<message\b[^>]*>.*?</message>")
        check("while you were away" in msg.group(0), "after resume: %s" % msg.group(0))
        ws2.send("<message to='%s/x' type='chat'><body>back</body></message>" % b)
        got = await wait_stanza(bob, lambda s: s.name == "message" and s["body"] == "back")
        check(str(got["from"]) == a + "/r1", "from %s" % got["from"])
        ws2.close()
    return rest()


def test_framing_errors(srv):
    # a TCP stream header inside a message is not RFC 7395 framing
    ws = WsClient(srv)
    ws.send(ws.header_xml())
    ws.expect_stream_error(("not-authorized", "invalid-namespace", "bad-format", "policy-violation"))
    # <open/> in the wrong namespace
    ws = WsClient(srv)
    ws.send("<open xmlns='jabber:client' to='%s' version='1.0'/>" % srv.domain)
    ws.expect_stream_error("invalid-namespace")
    # an unknown host
    ws = WsClient(srv)
    ws.send("<open xmlns='%s' to='nowhere.example' version='1.0'/>" % NS_FRAMING)
    ws.expect_stream_error("host-unknown")
    # binary frames are refused (RFC 7395 §3.2: text only)
    ws = WsClient(srv)
    ws.send_frame(2, b"<open/>")
    check(ws.closed(), "binary frame accepted")
    check(ws.close_code == 1003, "close code %s" % ws.close_code)
    # a message larger than the stanza limit
    u, pw = srv.new_user("wsbig")
    ws = WsClient(srv)
    ws.login(u, pw)
    ws.send("<message to='%s'><body>%s</body></message>" % (u, "x" * 300000))
    ws.expect_stream_error("policy-violation")
    # stanzas before authentication
    ws = WsClient(srv)
    ws.open()
    ws.send("<message to='%s'><body>hi</body></message>" % u)
    ws.expect_stream_error("not-authorized")


if __name__ == "__main__":
    run_tests([test_handshake_needs_xmpp_subprotocol, test_open_features_self_contained,
               test_login_scram_and_chat_with_tcp, test_scram_plus_over_https,
               test_close_is_answered, test_sm_resumption_over_websocket, test_framing_errors],
              srv)
