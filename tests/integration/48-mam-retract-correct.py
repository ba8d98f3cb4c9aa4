#!/usr/bin/python3
"""48-mam-retract-correct: XEP-0424 retractions and XEP-0308 corrections
carried into both users' archives (mod_mam) consistently: a correction is
archived and its original kept; a retraction is archived and replaces the
original by a tombstone and, since they repeat the retracted text, the
sender's corrections of it too; corrections by the other party and
unrelated messages stay; a retraction reaching an offline recipient
tombstones that recipient's archive as well."""

import asyncio
import os
import secrets
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Server, TestFailure, connect, disconnect, run_tests, wait_stanza  # noqa: E402

NS_MAM = "urn:xmpp:mam:2"
NS_SID = "urn:xmpp:sid:0"
NS_FWD = "urn:xmpp:forward:0"
NS_CLIENT = "jabber:client"
NS_HINTS = "urn:xmpp:hints"
NS_RETRACT = "urn:xmpp:message-retract:1"
NS_CORRECT = "urn:xmpp:message-correct:0"


async def archive(c, with_jid):
    """[(message id, body or None, retracted?)] of c's archive with with_jid."""
    qid = "q" + secrets.token_hex(4)
    iqid = "iq" + secrets.token_hex(4)
    c.send_raw("<iq type='set' id='%s'><query xmlns='%s' queryid='%s'><x xmlns='jabber:x:data' "
               "type='submit'><field var='FORM_TYPE' type='hidden'><value>%s</value></field>"
               "<field var='with'><value>%s</value></field></x></query></iq>"
               % (iqid, NS_MAM, qid, NS_MAM, with_jid))
    reply = await wait_stanza(c, lambda s: s.name == "iq" and s["id"] == iqid)
    if reply["type"] != "result":
        raise TestFailure("query failed: %s" % reply)
    out = []
    for s in c.h_stanzas:
        r = s.xml.find("{%s}result" % NS_MAM) if s.name == "message" else None
        if r is None or r.get("queryid") != qid:
            continue
        m = r.find("{%s}forwarded/{%s}message" % (NS_FWD, NS_CLIENT))
        body = m.find("{%s}body" % NS_CLIENT)
        out.append((m.get("id"), body.text if body is not None else None,
                    m.find("{%s}retracted" % NS_RETRACT) is not None))
    return out


async def settled(c, with_jid, pred, what):
    """The archive once pred(archive) holds (tombstones are written after
    the retraction is archived), within a few seconds."""
    got = None
    for _ in range(60):
        got = await archive(c, with_jid)
        if pred(got):
            return got
        await asyncio.sleep(harness.scaled(0.05))
    raise TestFailure("%s: %s: %s" % (c.boundjid.bare, what, got))


def msg(to, id, body, extra=""):
    return ("<message to='%s' type='chat' id='%s'><body>%s</body>%s</message>"
            % (to, id, body, extra))


def retraction(to, id, origin):
    return ("<message to='%s' type='chat' id='%s'><retract xmlns='%s' id='%s'/>"
            "<fallback xmlns='urn:xmpp:fallback:0' for='%s'/><body>retracted</body>"
            "<store xmlns='%s'/></message>" % (to, id, NS_RETRACT, origin, NS_RETRACT, NS_HINTS))


async def pair(srv):
    a_bare, a_pw = srv.new_user("alice")
    b_bare, b_pw = srv.new_user("bob")
    a = await connect(srv, a_bare + "/desk", a_pw)
    b = await connect(srv, b_bare + "/phone", b_pw)
    b.h_password = b_pw
    return a, b


async def test_correction_keeps_original(srv):
    a, b = await pair(srv)
    bob, alice = b.boundjid.bare, a.boundjid.bare
    a.send_raw(msg(bob, "c1", "helo", "<origin-id xmlns='%s' id='oc1'/>" % NS_SID))
    a.send_raw(msg(bob, "c2", "hello", "<replace xmlns='%s' id='c1'/>" % NS_CORRECT))
    await wait_stanza(b, lambda s: s.name == "message" and s["id"] == "c2")
    for c, peer in ((a, bob), (b, alice)):
        got = await settled(c, peer, lambda g: len(g) == 2, "correction not archived")
        if got != [("c1", "helo", False), ("c2", "hello", False)]:
            raise TestFailure("%s archive: %s" % (c.boundjid.bare, got))


async def test_retraction_tombstones_corrections(srv):
    a, b = await pair(srv)
    bob, alice = b.boundjid.bare, a.boundjid.bare
    a.send_raw(msg(bob, "m1", "wrong secret", "<origin-id xmlns='%s' id='o1'/>" % NS_SID))
    a.send_raw(msg(bob, "m2", "wrong secret!", "<replace xmlns='%s' id='m1'/>" % NS_CORRECT))
    a.send_raw(msg(bob, "m3", "unrelated", "<origin-id xmlns='%s' id='o3'/>" % NS_SID))
    a.send_raw(msg(bob, "m4", "wrong secret!!", "<replace xmlns='%s' id='m1'/>" % NS_CORRECT))
    # bob "correcting" alice's message is not alice's correction: it stays
    b.send_raw(msg(alice, "b1", "bob's words", "<replace xmlns='%s' id='m1'/>" % NS_CORRECT))
    await wait_stanza(a, lambda s: s.name == "message" and s["id"] == "b1")
    a.send_raw(retraction(bob, "r1", "o1"))
    await wait_stanza(b, lambda s: s.name == "message" and s["id"] == "r1")
    want = [("m1", None, True), ("m2", None, True), ("m3", "unrelated", False),
            ("m4", None, True), ("b1", "bob's words", False), ("r1", "retracted", False)]
    # (each archive has its own order: bob's b1 was archived when sent)
    for c, peer in ((a, bob), (b, alice)):
        await settled(c, peer, lambda g: sorted(g) == sorted(want), "archive after retraction")


async def test_retraction_to_offline_recipient(srv):
    a, b = await pair(srv)
    bob, alice = b.boundjid.bare, a.boundjid.bare
    await disconnect(b)
    await asyncio.sleep(harness.scaled(0.3))
    a.send_raw(msg(bob, "x1", "oops", "<origin-id xmlns='%s' id='ox1'/>" % NS_SID))
    a.send_raw(msg(bob, "x2", "oops!", "<replace xmlns='%s' id='x1'/>" % NS_CORRECT))
    a.send_raw(retraction(bob, "xr", "ox1"))
    want = [("x1", None, True), ("x2", None, True), ("xr", "retracted", False)]
    await settled(a, bob, lambda g: g == want, "sender's archive")
    b = await connect(srv, bob + "/back", b.h_password)
    await settled(b, alice, lambda g: g == want, "offline recipient's archive")


if __name__ == "__main__":
    run_tests([
        test_correction_keeps_original,
        test_retraction_tombstones_corrections,
        test_retraction_to_offline_recipient,
    ], srv=Server())
