#!/usr/bin/python3
"""41-csi: Client State Indication (XEP-0352): the stream feature, the
<active/> and <inactive/> nonzas, and what an inactive session is spared:
presence broadcasts and chat-state-only messages are held and collapsed
(the latest per sender; per conversation for carbon copies), anything
important is delivered at once after what was held, in order, and
<active/>, a full queue or the end of the session release the rest."""

import asyncio
import os
import re
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import RawClient, Server, TestFailure, connect, run_tests, wait_stanza  # noqa: E402
from roster_peer import C, Peer, is_presence, show, users  # noqa: E402

NS_CSI = "urn:xmpp:csi:0"
NS_CHATSTATES = "http://jabber.org/protocol/chatstates"
NS_CARBONS = "urn:xmpp:carbons:2"
MAX_HELD = 10
HOLD = 0.8  # seconds to wait before concluding that something was held


def status_of(el):
    return el.findtext(C("status"))


def from_(el, jid):
    return el.get("from") == jid


def chat_state(el):
    """The chat state element name of a message (or of its carbon), or None."""
    for child in el.iter():
        if child.tag.startswith("{%s}" % NS_CHATSTATES):
            return child.tag.split("}", 1)[1]
    return None


async def pair(srv):
    """alice/phone (raw, online) and bob/pc (raw, online), strangers."""
    (alice, apw), (bob, bpw) = await users(srv, 2)
    a = await Peer.login(srv, alice, apw, "phone")
    await a.online()
    b = await Peer.login(srv, bob, bpw, "pc")
    await b.online()
    a.forget()
    b.forget()
    return a, b


async def settle(seconds=HOLD):
    await asyncio.sleep(harness.scaled(seconds))


def drain(peer):
    """Read whatever the server has sent so far into peer.all."""
    while not peer.raw.eof and peer.raw._read_once(0.05):
        pass
    peer._feed()


def stanzas_from(peer, jid, tag=None):
    drain(peer)
    return [s for s in peer.all if from_(s, jid) and (tag is None or s.tag == C(tag))]


def test_stream_feature(srv):
    jid, pw = srv.new_user()
    r = RawClient(srv)
    r.open()
    if NS_CSI in (r.features or ""):
        raise TestFailure("CSI offered before authentication: %s" % r.features)
    r.starttls()
    r.auth(jid, pw)
    if "<csi xmlns='%s'/>" % NS_CSI not in r.features and \
            '<csi xmlns="%s"/>' % NS_CSI not in r.features:
        raise TestFailure("no <csi/> feature after authentication: %s" % r.features)
    r.bind("x")
    # <active/> while active is harmless; no reply (§4.2)
    r.send("<active xmlns='%s'/>" % NS_CSI)
    r.send("<inactive xmlns='%s'/>" % NS_CSI)
    r.send("<active xmlns='%s'/>" % NS_CSI)
    reply = r.roundtrip()
    if "type='error'" not in reply and 'type="error"' not in reply:
        raise TestFailure("stream broken after CSI nonzas: %s" % reply)
    # an unknown element in the CSI namespace is not ours to accept
    r.send("<bogus xmlns='%s'/>" % NS_CSI)
    r.expect_stream_error("unsupported-stanza-type")


async def test_presence_collapsed(srv):
    """100 presence updates from one contact become one; two contacts, two."""
    a, b = await pair(srv)
    (carol, cpw), = await users(srv, 1)
    c = await Peer.login(srv, carol, cpw, "tab")
    await c.online()
    a.forget()
    a.send("<inactive xmlns='%s'/>" % NS_CSI)
    await settle(0.2)
    for i in range(100):
        b.presence(to=a.jid, inner="<status>b%d</status>" % i)
    for i in range(10):
        c.presence(to=a.jid, inner="<status>c%d</status>" % i)
    await settle()
    if stanzas_from(a, b.jid) or stanzas_from(a, c.jid):
        raise TestFailure("presence delivered while inactive: %s"
                          % show((stanzas_from(a, b.jid) + stanzas_from(a, c.jid))[0]))
    a.send("<active xmlns='%s'/>" % NS_CSI)
    await a.wait(lambda s: is_presence(s, frm=b.jid) and status_of(s) == "b99")
    await a.wait(lambda s: is_presence(s, frm=c.jid) and status_of(s) == "c9")
    await settle(0.5)
    got_b, got_c = stanzas_from(a, b.jid), stanzas_from(a, c.jid)
    if len(got_b) != 1 or len(got_c) != 1:
        raise TestFailure("after <active/>: %d presences from bob, %d from carol (want 1 and 1)"
                          % (len(got_b), len(got_c)))
    # active again: presence flows at once
    b.presence(to=a.jid, inner="<status>live</status>")
    await a.wait(lambda s: is_presence(s, frm=b.jid) and status_of(s) == "live",
                 timeout=harness.scaled(2))


async def test_chat_states_collapsed(srv):
    a, b = await pair(srv)
    a.send("<inactive xmlns='%s'/>" % NS_CSI)
    await settle(0.2)
    states = ["composing", "paused"] * 10 + ["inactive"]
    for i, state in enumerate(states):
        thread = "<thread>t1</thread>" if i % 2 else ""
        b.send("<message to='%s' type='chat'><%s xmlns='%s'/>%s</message>"
               % (a.jid, state, NS_CHATSTATES, thread))
    await settle()
    if stanzas_from(a, b.jid):
        raise TestFailure("chat state delivered while inactive")
    a.send("<active xmlns='%s'/>" % NS_CSI)
    await a.wait(lambda s: from_(s, b.jid) and chat_state(s) == "inactive")
    await settle(0.5)
    got = stanzas_from(a, b.jid)
    if len(got) != 1:
        raise TestFailure("%d chat states after <active/> (want 1): %s"
                          % (len(got), [chat_state(s) for s in got]))


async def test_important_flushes_in_order(srv):
    """A message with a body comes at once, after the held stanzas of its
    sender, which arrive collapsed and in order."""
    a, b = await pair(srv)
    a.send("<inactive xmlns='%s'/>" % NS_CSI)
    await settle(0.2)
    b.presence(to=a.jid, inner="<status>one</status>")
    b.send("<message to='%s' type='chat'><composing xmlns='%s'/></message>"
           % (a.jid, NS_CHATSTATES))
    b.presence(to=a.jid, inner="<status>two</status>")
    b.send("<message to='%s' type='chat'><paused xmlns='%s'/></message>" % (a.jid, NS_CHATSTATES))
    b.send("<message to='%s' type='chat'><body>hello</body><active xmlns='%s'/></message>"
           % (a.jid, NS_CHATSTATES))
    await a.wait(lambda s: from_(s, b.jid) and s.findtext(C("body")) == "hello",
                 what="the message with a body, while inactive")
    got = stanzas_from(a, b.jid)
    kinds = [("presence", status_of(s)) if s.tag == C("presence") else
             ("message", s.findtext(C("body")) or chat_state(s)) for s in got]
    want = [("presence", "two"), ("message", "paused"), ("message", "hello")]
    if kinds != want:
        raise TestFailure("delivered %s, want %s" % (kinds, want))
    # still inactive: presence is held again
    b.presence(to=a.jid, inner="<status>three</status>")
    await settle()
    if len(stanzas_from(a, b.jid)) != 3:
        raise TestFailure("presence after the flush not held: %s"
                          % show(stanzas_from(a, b.jid)[-1]))
    a.send("<active xmlns='%s'/>" % NS_CSI)
    await a.wait(lambda s: is_presence(s, frm=b.jid) and status_of(s) == "three")


async def test_iq_and_subscription_not_held(srv):
    a, b = await pair(srv)
    a.send("<inactive xmlns='%s'/>" % NS_CSI)
    await settle(0.2)
    b.presence(to=a.jid, inner="<status>held</status>")
    b.send("<iq type='get' id='v1' to='%s'><query xmlns='jabber:iq:version'/></iq>" % a.jid)
    iq = await a.wait(lambda s: s.tag == C("iq") and s.get("id") == "v1", what="IQ while inactive")
    got = stanzas_from(a, b.jid)
    if len(got) != 2 or got[0].tag != C("presence") or got[1] is not iq:
        raise TestFailure("held presence not flushed before the IQ: %s" % [show(s) for s in got])
    # a subscription request is not held either
    b.presence(to=a.bare, type="subscribe")
    await a.wait(lambda s: is_presence(s, frm=b.bare, type="subscribe"),
                 what="subscription request while inactive")
    # nor the echo of the client's own presence (RFC 6121 §4.2.2)
    a.presence(inner="<status>away for a while</status>")
    await a.wait(lambda s: is_presence(s, frm=a.jid) and status_of(s) == "away for a while",
                 timeout=harness.scaled(2), what="own presence echo while inactive")


async def test_overflow_releases(srv):
    """More distinct held stanzas than csi.max_held release the queue; carbon
    copies of chat states collapse per conversation."""
    (alice, apw), (bob, bpw) = await users(srv, 2)
    a = await Peer.login(srv, alice, apw, "phone")
    await a.online()
    r = await a.iq("<enable xmlns='%s'/>" % NS_CARBONS, type="set")
    if r.get("type") != "result":
        raise TestFailure("carbons enable: %s" % show(r))
    desk = await Peer.login(srv, alice, apw, "desk")
    await desk.online()
    a.forget()
    a.send("<inactive xmlns='%s'/>" % NS_CSI)
    await settle(0.2)
    n = MAX_HELD + 5
    for i in range(n):
        for state in ("composing", "paused"):
            desk.send("<message to='%s/x%d' type='chat'><%s xmlns='%s'/></message>"
                      % (bob, i, state, NS_CHATSTATES))
    await settle()

    def carbons():
        drain(a)
        return [s for s in a.all if s.find("{%s}sent" % NS_CARBONS) is not None]
    def convo(s):
        return (int(re.sub(r".*/x", "", s.find(".//" + C("message")).get("to"))), chat_state(s))
    # conversations x0..x9 are held, collapsed to their last state; the
    # first state of x10 finds the queue full and releases it, then goes
    # out itself; what follows is held again
    early = [convo(s) for s in carbons()]
    want = [(i, "paused") for i in range(MAX_HELD)] + [(MAX_HELD, "composing")]
    if early != want:
        raise TestFailure("before <active/>: %s, want %s" % (early, want))
    a.send("<active xmlns='%s'/>" % NS_CSI)
    want += [(i, "paused") for i in range(MAX_HELD, n)]
    deadline = asyncio.get_running_loop().time() + harness.TIMEOUT
    while len(carbons()) < len(want) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    await settle(0.3)
    got = [convo(s) for s in carbons()]
    if got != want:
        raise TestFailure("carbons %s, want %s" % (got, want))


async def test_close_while_holding(srv):
    """Held stanzas die with the session; the server goes on."""
    a, b = await pair(srv)
    a.send("<inactive xmlns='%s'/>" % NS_CSI)
    await settle(0.2)
    for i in range(20):
        b.presence(to=a.jid, inner="<status>s%d</status>" % i)
        b.send("<message to='%s' type='chat'><composing xmlns='%s'/></message>"
           % (a.jid, NS_CHATSTATES))
    await settle(0.3)
    a.raw.close()
    await settle(0.3)
    b.send("<message to='%s' type='chat'><body>after</body></message>" % a.jid)
    await settle(0.3)
    b.raw.roundtrip()


async def test_resumed_stream_is_active(srv):
    """XEP-0352 §5.2: after a XEP-0198 resumption the stream is active; what
    was held while inactive comes first, nothing is held any more."""
    (alice, apw), (bob, bpw) = await users(srv, 2)
    a = RawClient(srv)
    full = a.login(alice, apw, "phone")
    a.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
    rid = re.search(r"id=['\"]([^'\"]+)['\"]", a.expect(r"<enabled\b[^>]*>").group(0)).group(1)
    a.send("<inactive xmlns='%s'/>" % NS_CSI)
    a.roundtrip()
    b = await Peer.login(srv, bob, bpw, "pc")
    await b.online()
    b.presence(to=full, inner="<status>held</status>")
    await settle()
    if "held" in a.read_for(0.1):
        raise TestFailure("presence delivered while inactive")
    # the connection dies without a goodbye (RST): the session waits
    a.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    a.close()
    await settle(0.3)
    a2 = RawClient(srv)
    a2.open()
    a2.starttls()
    a2.auth(alice, apw)
    a2.send("<resume xmlns='urn:xmpp:sm:3' previd='%s' h='0'/>" % rid)
    m = a2.expect(r"<(resumed|failed)\b[^>]*>")
    if m.group(1) != "resumed":
        raise TestFailure("resumption failed: %s" % m.group(0))
    b.presence(to=full, inner="<status>after</status>")
    a2.expect(r"<status>held</status>.*<status>after</status>", timeout=harness.TIMEOUT)


async def test_slixmpp_inactive_client(srv):
    """A slixmpp client that goes inactive still gets messages at once."""
    (alice, apw), (bob, bpw) = await users(srv, 2)
    c = await connect(srv, alice + "/slix", apw)
    b = await Peer.login(srv, bob, bpw, "pc")
    await b.online()
    c.send_raw("<inactive xmlns='%s'/>" % NS_CSI)
    await settle(0.2)
    b.presence(to=c.boundjid.full, inner="<status>held</status>")
    b.send("<message to='%s' type='chat'><body>now</body></message>" % c.boundjid.full)
    await wait_stanza(c, lambda s: s.name == "message" and s["body"] == "now")
    pres = [s for s in c.h_stanzas if s.name == "presence" and s["status"] == "held"]
    if len(pres) != 1:
        raise TestFailure("held presence: %d copies before the message" % len(pres))


if __name__ == "__main__":
    run_tests([test_stream_feature, test_presence_collapsed, test_chat_states_collapsed,
               test_important_flushes_in_order, test_iq_and_subscription_not_held,
               test_overflow_releases, test_close_while_holding, test_resumed_stream_is_active,
               test_slixmpp_inactive_client],
              srv=Server(**{"modules.csi.max_held": MAX_HELD}), timeout=120)
