#!/usr/bin/python3
"""82-labels-offline-mam: stored content is checked again when it is read
(ARCHITECTURE.md §6): an offline message is delivered at login only if the
recipient's clearance then permits its label, and an archive query (XEP-0313)
leaves out - and does not count - items the querying account may no longer
see. The clearance is lowered with aldisctl between storing and reading (the
server reads it when it loads the account: a restart makes that certain)."""

import asyncio
import os
import secrets

import harness
from harness import (Server, TestFailure, assert_no_stanza, connect, disconnect, run_tests,
                     wait_stanza)
from labels_util import catalog, labelled_message, mentions, pick, user

NS_MAM = "urn:xmpp:mam:2"
NS_RSM = "http://jabber.org/protocol/rsm"

srv = Server()


def tag():
    return "m-" + secrets.token_hex(4)


async def online(jid, pw):
    c = await connect(srv, jid, pw)
    await wait_stanza(c, lambda s: s.name == "presence" and s["from"].full == c.boundjid.full)
    return c


async def mam_query(c):
    """All of the account's archive: (bodies, count)."""
    qid, iqid = "q" + secrets.token_hex(4), "iq" + secrets.token_hex(4)
    c.send_raw("<iq type='set' id='%s'><query xmlns='%s' queryid='%s'/></iq>" % (iqid, NS_MAM, qid))
    reply = await wait_stanza(c, lambda s: s.name == "iq" and s["id"] == iqid)
    if reply["type"] != "result":
        raise TestFailure("MAM query failed: %s" % reply)
    bodies = []
    for s in c.h_stanzas:
        r = s.xml.find("{%s}result" % NS_MAM) if s.name == "message" else None
        if r is not None and r.get("queryid") == qid:
            bodies.append(str(s))
    cnt = reply.xml.find("{%s}fin/{%s}set/{%s}count" % (NS_MAM, NS_RSM, NS_RSM))
    return bodies, int(cnt.text) if cnt is not None else None


async def lower_and_restart(clients, bare):
    for c in clients:
        await disconnect(c)
    srv.ctl("user", "clearance", bare, "--clear")
    await asyncio.get_running_loop().run_in_executor(None, srv.restart)


def audit_lines():
    with open(os.path.join(srv.dir, "audit.log")) as f:
        return f.read().splitlines()


async def test_offline_delivered_when_cleared(srv):
    a, apw = user(srv, "alice", "SECRET")
    b, bpw = user(srv, "bob", "SECRET")
    alice = await connect(srv, a + "/desk", apw)
    label = pick(await catalog(alice, srv.domain, b), "SECRET")
    body, mid = tag(), tag()
    alice.send_raw(labelled_message(b, body, label, mid))
    await asyncio.sleep(harness.scaled(0.5))
    bob = await connect(srv, b + "/desk", bpw)
    got = await wait_stanza(bob, lambda s: s.name == "message" and s["body"] == body)
    if got.xml.find("{urn:xmpp:sec-label:0}securitylabel") is None:
        raise TestFailure("the stored message lost its label: %s" % got)


async def test_offline_filtered_after_clearance_lowered(srv):
    a, apw = user(srv, "alice", "SECRET")
    b, bpw = user(srv, "bob", "SECRET")
    alice = await connect(srv, a + "/desk", apw)
    label = pick(await catalog(alice, srv.domain, b), "SECRET")
    secret, plain, mid = tag(), tag(), tag()
    alice.send_raw(labelled_message(b, secret, label, mid))
    alice.send_message(mto=b, mbody=plain, mtype="chat")
    await assert_no_stanza(alice, lambda s: s["id"] == mid and s["type"] == "error", wait=0.5,
                           what="an error for a message a cleared user may store")
    await lower_and_restart([alice], b)
    bob = await connect(srv, b + "/desk", bpw)
    await wait_stanza(bob, lambda s: s.name == "message" and s["body"] == plain)
    await assert_no_stanza(bob, lambda s: mentions(s, secret), wait=0.5,
                           what="an offline message above the clearance now held")
    if not any(" deny path=offline " in l and ("to=" + b) in l for l in audit_lines()):
        raise TestFailure("no audit line for the withheld offline message")


async def test_mam_filtered_and_not_counted(srv):
    a, apw = user(srv, "alice", "SECRET")
    b, bpw = user(srv, "bob", "SECRET")
    alice = await online(a + "/desk", apw)
    bob = await online(b + "/desk", bpw)
    label = pick(await catalog(alice, srv.domain, b), "SECRET")
    secret, plain1, plain2 = tag(), tag(), tag()
    alice.send_message(mto=b, mbody=plain1, mtype="chat")
    alice.send_raw(labelled_message(b, secret, label, tag()))
    alice.send_message(mto=b, mbody=plain2, mtype="chat")
    for t in (plain1, secret, plain2):
        await wait_stanza(bob, lambda s, t=t: s.name == "message" and s["body"] == t)
    await asyncio.sleep(harness.scaled(0.3))
    bodies, count = await mam_query(bob)
    if count != 3 or not any(secret in x for x in bodies):
        raise TestFailure("before: expected 3 archived items with the SECRET one, got %d (%s)"
                          % (len(bodies), count))
    await lower_and_restart([alice, bob], b)
    bob = await connect(srv, b + "/desk", bpw)
    bodies, count = await mam_query(bob)
    if any(secret in x for x in bodies):
        raise TestFailure("the archive returned an item above the clearance now held")
    if len(bodies) != 2 or count != 2:
        raise TestFailure("expected 2 results counted as 2, got %d counted as %s"
                          % (len(bodies), count))
    await assert_no_stanza(bob, lambda s: mentions(s, secret), wait=0.3,
                           what="SECRET content by any route")
    # the sender, still cleared, keeps it in its own archive
    alice = await connect(srv, a + "/desk", apw)
    bodies, count = await mam_query(alice)
    if not any(secret in x for x in bodies):
        raise TestFailure("the cleared sender lost its own archived message")


if __name__ == "__main__":
    run_tests([test_offline_delivered_when_cleared, test_offline_filtered_after_clearance_lowered,
               test_mam_filtered_and_not_counted], srv)
