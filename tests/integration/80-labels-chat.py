#!/usr/bin/python3
"""80-labels-chat: security labels on 1:1 messages (ARCHITECTURE.md §6,
XEP-0258 §5): a cleared recipient receives a labelled message with its
label; an uncleared one receives nothing and the sender gets <forbidden/>
with a text; a malformed label is refused as <bad-request/>; a sender may
not use a label above its own clearance; unlabelled messages take the
policy's default (lowest) label and flow as before; every refusal is one
line in the audit log. Clearances are set with aldisctl before login."""

import asyncio
import os
import re
import secrets

import harness
from harness import Server, TestFailure, assert_no_stanza, connect, run_tests, wait_stanza
from labels_util import (catalog, error_text, is_error, labelled_message, mentions, pick, user)

srv = Server()


def tag():
    return "l-" + secrets.token_hex(4)


async def secret_label(client, target):
    return pick(await catalog(client, srv.domain, target), "SECRET")


async def test_cleared_recipient_receives(srv):
    a, apw = user(srv, "alice", "SECRET")
    b, bpw = user(srv, "bob", "SECRET")
    alice = await connect(srv, a + "/desk", apw)
    bob = await connect(srv, b + "/desk", bpw)
    label = await secret_label(alice, b)
    body, mid = tag(), tag()
    alice.send_raw(labelled_message(b, body, label, mid))
    got = await wait_stanza(bob, lambda s: s.name == "message" and s["body"] == body)
    if got.xml.find("{urn:xmpp:sec-label:0}securitylabel") is None:
        raise TestFailure("the label was stripped on the way: %s" % got)
    await assert_no_stanza(alice, lambda s: s["id"] == mid and s["type"] == "error", wait=0.3,
                           what="an error for a permitted message")


async def test_uncleared_recipient_refused(srv):
    a, apw = user(srv, "alice", "SECRET")
    c, cpw = user(srv, "carol")  # no clearance: UNCLASSIFIED only
    alice = await connect(srv, a + "/desk", apw)
    carol = await connect(srv, c + "/desk", cpw)
    label = await secret_label(alice, a)
    body, mid = tag(), tag()
    alice.send_raw(labelled_message(c, body, label, mid))
    err = await wait_stanza(alice, lambda s: s["id"] == mid and s["type"] == "error")
    if not is_error(err, mid, "forbidden"):
        raise TestFailure("expected <forbidden/>, got %s" % err)
    if not error_text(err):
        raise TestFailure("the error has no human-readable <text/>: %s" % err)
    await assert_no_stanza(carol, lambda s: mentions(s, body), wait=0.5,
                           what="labelled content for an uncleared user")
    # nothing was stored for later either: log in again, nothing arrives
    carol2 = await connect(srv, c + "/other", cpw)
    await assert_no_stanza(carol2, lambda s: mentions(s, body), wait=0.5,
                           what="refused content stored offline")


async def test_offline_uncleared_not_stored(srv):
    a, apw = user(srv, "alice", "SECRET")
    c, cpw = user(srv, "carol")
    alice = await connect(srv, a + "/desk", apw)
    label = await secret_label(alice, a)
    body, mid = tag(), tag()
    alice.send_raw(labelled_message(c, body, label, mid))
    err = await wait_stanza(alice, lambda s: s["id"] == mid and s["type"] == "error")
    if not is_error(err, mid, "forbidden"):
        raise TestFailure("expected <forbidden/> for an offline uncleared user, got %s" % err)
    carol = await connect(srv, c + "/desk", cpw)
    await assert_no_stanza(carol, lambda s: mentions(s, body), wait=0.5,
                           what="refused content delivered from offline storage")


async def test_malformed_label_refused(srv):
    a, apw = user(srv, "alice", "SECRET")
    b, bpw = user(srv, "bob", "SECRET")
    alice = await connect(srv, a + "/desk", apw)
    bob = await connect(srv, b + "/desk", bpw)
    bad = ("<securitylabel xmlns='urn:xmpp:sec-label:0'><displaymarking>SECRET</displaymarking>"
           "<label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>bm90IGRlcg==</esssecuritylabel>"
           "</label></securitylabel>")
    body, mid = tag(), tag()
    alice.send_raw(labelled_message(b, body, bad, mid))
    err = await wait_stanza(alice, lambda s: s["id"] == mid and s["type"] == "error")
    if not is_error(err, mid, "bad-request"):
        raise TestFailure("expected <bad-request/> for a malformed label, got %s" % err)
    await assert_no_stanza(bob, lambda s: mentions(s, body), wait=0.5,
                           what="a message with a malformed label")


async def test_bad_binding_refused(srv):
    """STANAG 4778: a binding that does not verify refuses the stanza."""
    a, apw = user(srv, "alice", "SECRET")
    b, bpw = user(srv, "bob", "SECRET")
    alice = await connect(srv, a + "/desk", apw)
    bob = await connect(srv, b + "/desk", bpw)
    label = await secret_label(alice, b)
    binding = ("<MetadataBindingContainer xmlns='urn:nato:stanag:4778:bindinginformation:1:0'>"
               "<MetadataBinding><MetadataReference URI='#aldis-label'/>"
               "<DataReference URI='#aldis-data'/></MetadataBinding></MetadataBindingContainer>")
    body, mid = tag(), tag()
    alice.send_raw("<message to='%s' type='chat' id='%s'><body>%s</body>%s%s</message>"
                   % (b, mid, body, label, binding))
    err = await wait_stanza(alice, lambda s: s["id"] == mid and s["type"] == "error")
    if not is_error(err, mid, "bad-request"):
        raise TestFailure("expected <bad-request/> for a bad binding, got %s" % err)
    await assert_no_stanza(bob, lambda s: mentions(s, body), wait=0.5,
                           what="a message whose binding does not verify")


async def test_sender_above_own_clearance(srv):
    a, apw = user(srv, "alice", "SECRET")
    c, cpw = user(srv, "carol", "CONFIDENTIAL")
    b, bpw = user(srv, "bob", "TOP SECRET")
    alice = await connect(srv, a + "/desk", apw)
    carol = await connect(srv, c + "/desk", cpw)
    bob = await connect(srv, b + "/desk", bpw)
    # carol reuses a SECRET label she got from somewhere else
    label = await secret_label(alice, b)
    body, mid = tag(), tag()
    carol.send_raw(labelled_message(b, body, label, mid))
    err = await wait_stanza(carol, lambda s: s["id"] == mid and s["type"] == "error")
    if not is_error(err, mid, "forbidden"):
        raise TestFailure("expected <forbidden/> for a label above the sender's clearance, got %s"
                          % err)
    await assert_no_stanza(bob, lambda s: mentions(s, body), wait=0.5,
                           what="a message labelled above its sender's clearance")


async def test_unlabelled_flows(srv):
    c, cpw = user(srv, "carol")
    d, dpw = user(srv, "dave")
    carol = await connect(srv, c + "/desk", cpw)
    dave = await connect(srv, d + "/desk", dpw)
    body = tag()
    carol.send_message(mto=d, mbody=body, mtype="chat")
    await wait_stanza(dave, lambda s: s.name == "message" and s["body"] == body)


async def test_catalog_shows_only_permitted(srv):
    a, apw = user(srv, "alice", "SECRET")
    c, cpw = user(srv, "carol")
    alice = await connect(srv, a + "/desk", apw)
    markings = [m for _, m, _ in await catalog(alice, srv.domain, c)]
    if any("SECRET" in m.upper() or "CONFIDENTIAL" in m.upper() for m in markings):
        raise TestFailure("catalog for an UNCLASSIFIED user offers %s" % markings)
    pick(await catalog(alice, srv.domain, a), "SECRET")


async def test_audit_log_lines(srv):
    a, apw = user(srv, "alice", "SECRET")
    c, cpw = user(srv, "carol")
    alice = await connect(srv, a + "/desk", apw)
    carol = await connect(srv, c + "/desk", cpw)
    label = await secret_label(alice, a)
    mid, mid2 = tag(), tag()
    alice.send_raw(labelled_message(c, tag(), label, mid))
    await wait_stanza(alice, lambda s: s["id"] == mid and s["type"] == "error")
    carol.send_raw(labelled_message(a, tag(), label, mid2))
    await wait_stanza(carol, lambda s: s["id"] == mid2 and s["type"] == "error")
    with open(os.path.join(srv.dir, "audit.log")) as f:
        lines = f.read().splitlines()
    want = [(" deny path=inbound from=%s/desk to=%s label=SECRET reason=" % (a, c)),
            (" deny path=send from=%s/desk to=%s label=SECRET reason=" % (c, a))]
    for w in want:
        if not any(w in l for l in lines):
            raise TestFailure("no audit line with %r in:\n%s" % (w, "\n".join(lines)))
    for l in lines:
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (deny|refuse|permit) path=\w+ "
                            r"from=\S+ to=\S+ label=\S+ reason=.+", l):
            raise TestFailure("malformed audit line: %r" % l)


if __name__ == "__main__":
    run_tests([test_cleared_recipient_receives, test_uncleared_recipient_refused,
               test_offline_uncleared_not_stored, test_malformed_label_refused,
               test_bad_binding_refused,
               test_sender_above_own_clearance, test_unlabelled_flows,
               test_catalog_shows_only_permitted, test_audit_log_lines], srv)
