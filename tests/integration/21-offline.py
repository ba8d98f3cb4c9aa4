#!/usr/bin/python3
"""21-offline: mod_offline (XEP-0160): normal and chat messages with a body
that no resource takes are stored with an XEP-0203 delay stamp and given,
oldest first, to the first resource that sends non-negative available
presence; the queue is bounded (offline.max_messages, 3 here)."""

import asyncio
import re
import secrets

import harness
from harness import Server, TestFailure, assert_no_stanza, connect, run_tests, wait_stanza

NS_DELAY = "urn:xmpp:delay"
NS_HINTS = "urn:xmpp:hints"
MAX = 3


def tag():
    return "o-" + secrets.token_hex(4)


async def sender(srv):
    bare, pw = srv.new_user("alice")
    return await connect(srv, bare + "/desk", pw)


def error_for(text, condition):
    return lambda s: (s.name == "message" and s["type"] == "error" and s["body"] == text
                      and s["error"]["condition"] == condition)


async def settle():
    await asyncio.sleep(harness.scaled(0.5))


def offline_bodies(client):
    return [s["body"] for s in client.h_stanzas
            if s.name == "message" and s.xml.find("{%s}delay" % NS_DELAY) is not None]


async def test_stored_in_order_with_delay(srv):
    bob, pw = srv.new_user("bob")
    alice = await sender(srv)
    texts = [tag(), tag()]
    alice.send_message(mto=bob, mbody=texts[0], mtype="chat")
    alice.send_message(mto=bob + "/gone", mbody=texts[1], mtype="chat")
    headline = tag()
    alice.send_message(mto=bob, mbody=headline, mtype="headline")
    await settle()
    b = await connect(srv, bob + "/phone", pw)
    for t in texts:
        await wait_stanza(b, lambda s, t=t: s.name == "message" and s["body"] == t)
    await settle()
    got = offline_bodies(b)
    if got != texts:
        raise TestFailure("offline messages %s, expected %s in that order" % (got, texts))
    for st in b.h_stanzas:
        if st.name != "message" or st["body"] not in texts:
            continue
        delay = st.xml.find("{%s}delay" % NS_DELAY)
        if delay.get("from") != srv.domain:
            raise TestFailure("delay from=%r, expected the domain" % delay.get("from"))
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", delay.get("stamp") or ""):
            raise TestFailure("delay stamp %r is not XEP-0082 UTC" % delay.get("stamp"))
        if st["from"].bare != alice.boundjid.bare:
            raise TestFailure("stored message lost its sender: %s" % st["from"])
    if headline in [s["body"] for s in b.h_stanzas if s.name == "message"]:
        raise TestFailure("a headline was stored (RFC 6121 §8.5.2.2.1: drop)")
    await assert_no_stanza(alice, lambda s: s.name == "message" and s["type"] == "error",
                           wait=0.2, what="an error for a stored message")


async def test_delivered_once(srv):
    bob, pw = srv.new_user("bob")
    alice = await sender(srv)
    text = tag()
    alice.send_message(mto=bob, mbody=text, mtype="normal")
    await settle()
    b1 = await connect(srv, bob + "/one", pw)
    await wait_stanza(b1, lambda s: s.name == "message" and s["body"] == text)
    b2 = await connect(srv, bob + "/two", pw)
    await assert_no_stanza(b2, lambda s: s.name == "message" and s["body"] == text, wait=0.5,
                           what="an offline message delivered twice")
    # a later presence update of the first resource does not pop again
    b1.send_presence(pstatus="away")
    await asyncio.sleep(harness.scaled(0.5))
    if offline_bodies(b1).count(text) != 1:
        raise TestFailure("offline message delivered again on a presence update")


async def test_negative_priority_waits(srv):
    bob, pw = srv.new_user("bob")
    alice = await sender(srv)
    text = tag()
    alice.send_message(mto=bob, mbody=text, mtype="chat")
    await settle()
    b = await connect(srv, bob + "/hidden", pw, presence=False)
    b.send_presence(ppriority=-1)
    await assert_no_stanza(b, lambda s: s.name == "message" and s["body"] == text, wait=0.5,
                           what="offline message for a negative-priority presence")
    b.send_presence(ppriority=1)
    await wait_stanza(b, lambda s: s.name == "message" and s["body"] == text)


async def test_no_body_not_stored_but_store_hint_is(srv):
    bob, pw = srv.new_user("bob")
    alice = await sender(srv)
    bare_id, hinted_id = tag(), tag()
    alice.send_raw("<message to='%s' type='chat' id='%s'>"
                   "<composing xmlns='http://jabber.org/protocol/chatstates'/></message>"
                   % (bob, bare_id))
    alice.send_raw("<message to='%s' type='chat' id='%s'><store xmlns='%s'/>"
                   "<x xmlns='urn:example:payload'/></message>" % (bob, hinted_id, NS_HINTS))
    err = await wait_stanza(alice, lambda s: s.name == "message" and s["id"] == bare_id)
    if err["type"] != "error" or err["error"]["condition"] != "service-unavailable":
        raise TestFailure("a bodyless chat should bounce, got %s" % err)
    no_store = tag()
    alice.send_raw("<message to='%s' type='chat'><body>%s</body><no-store xmlns='%s'/></message>"
                   % (bob, no_store, NS_HINTS))
    await wait_stanza(alice, error_for(no_store, "service-unavailable"))
    b = await connect(srv, bob + "/phone", pw)
    await wait_stanza(b, lambda s: s.name == "message" and s["id"] == hinted_id)
    await assert_no_stanza(b, lambda s: s.name == "message" and s["id"] == bare_id, wait=0.3)


async def test_queue_limit(srv):
    bob, pw = srv.new_user("bob")
    alice = await sender(srv)
    texts = [tag() for _ in range(MAX + 1)]
    for t in texts:
        alice.send_message(mto=bob, mbody=t, mtype="chat")
    await wait_stanza(alice, error_for(texts[-1], "service-unavailable"))
    await settle()
    errors = [s["body"] for s in alice.h_stanzas if s.name == "message" and s["type"] == "error"]
    if errors != [texts[-1]]:
        raise TestFailure("bounced %s, expected only the message over the limit" % errors)
    b = await connect(srv, bob + "/phone", pw)
    await wait_stanza(b, lambda s: s.name == "message" and s["body"] == texts[MAX - 1])
    await settle()
    if offline_bodies(b) != texts[:MAX]:
        raise TestFailure("got %s, expected %s" % (offline_bodies(b), texts[:MAX]))


async def test_survives_restart(srv):
    bob, pw = srv.new_user("bob")
    alice = await sender(srv)
    text = tag()
    alice.send_message(mto=bob, mbody=text, mtype="chat")
    await settle()
    await harness.disconnect(alice)
    srv.restart()
    b = await connect(srv, bob + "/phone", pw)
    await wait_stanza(b, lambda s: s.name == "message" and s["body"] == text)


async def test_disco_msgoffline(srv):
    bob, pw = srv.new_user("bob")
    b = await connect(srv, bob + "/phone", pw)
    iq = b.make_iq_get(queryxmlns="http://jabber.org/protocol/disco#info", ito=srv.domain)
    reply = await iq.send(timeout=harness.TIMEOUT)
    feats = [f.get("var") for f in reply.xml.iter("{http://jabber.org/protocol/disco#info}feature")]
    if "msgoffline" not in feats:
        raise TestFailure("msgoffline missing from the host features %s" % feats)


if __name__ == "__main__":
    run_tests([
        test_stored_in_order_with_delay,
        test_delivered_once,
        test_negative_priority_waits,
        test_no_body_not_stored_but_store_hint_is,
        test_queue_limit,
        test_survives_restart,
        test_disco_msgoffline,
    ], srv=Server(**{"modules.offline.max_messages": MAX}))
