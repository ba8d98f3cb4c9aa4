#!/usr/bin/python3
"""20-message-routing: mod_message, RFC 6121 §8.5 delivery of messages to a
local account, with several resources and priorities: full JIDs (§8.5.3),
bare JIDs (§8.5.2) per message type, and users that do not exist (§8.5.1)."""

import asyncio
import secrets

import harness
from harness import Server, TestFailure, assert_no_stanza, connect, run_tests, wait_stanza


def tag():
    return "m-" + secrets.token_hex(4)


async def online(client, priority=None):
    """Send available presence and wait until the server has processed it
    (our own broadcast comes back, RFC 6121 §4.2.2)."""
    me = client.boundjid.full
    client.send_presence(ppriority=priority)
    try:
        await wait_stanza(client, lambda s: s.name == "presence" and s["from"].full == me
                          and s["type"] != "unavailable", timeout=harness.scaled(3))
    except TestFailure:
        await asyncio.sleep(harness.scaled(0.5))


async def account(srv, prefix, priorities):
    """A fresh user with one resource per entry of `priorities`: an int is
    an available resource with that priority, None a connected resource
    that never sent presence. Returns (bare, password, [clients])."""
    bare, pw = srv.new_user(prefix)
    clients = []
    for i, prio in enumerate(priorities):
        c = await connect(srv, "%s/r%d" % (bare, i), pw, presence=False)
        if prio is not None:
            await online(c, prio)
        clients.append(c)
    return bare, pw, clients


async def sender(srv):
    bare, pw = srv.new_user("alice")
    return await connect(srv, bare + "/desk", pw)


def body_is(text, name="message"):
    return lambda s: s.name == name and s["body"] == text


def error_for(text, condition):
    return lambda s: (s.name == "message" and s["type"] == "error" and s["body"] == text
                      and s["error"]["condition"] == condition)


async def expect_delivery(clients, text, receivers, wait=1.0):
    """Exactly the clients at indexes `receivers` get the message `text`."""
    for i in receivers:
        await wait_stanza(clients[i], body_is(text))
    await asyncio.sleep(harness.scaled(wait))
    for i, c in enumerate(clients):
        got = [s for s in c.h_stanzas if s.name == "message" and s["body"] == text]
        if i in receivers and len(got) != 1:
            raise TestFailure("resource r%d got %d copies of %s" % (i, len(got), text))
        if i not in receivers and got:
            raise TestFailure("resource r%d got %s, it should not have" % (i, text))


# ---- §8.5.3.1: full JID of a bound resource ----

async def test_full_jid_goes_to_that_resource(srv):
    bob, _, cs = await account(srv, "bob", [5, None, -1])
    alice = await sender(srv)
    for idx, mtype in ((1, "chat"), (2, "normal"), (0, "headline"), (2, "groupchat")):
        text = tag()
        alice.send_message(mto="%s/r%d" % (bob, idx), mbody=text, mtype=mtype)
        await expect_delivery(cs, text, [idx], wait=0.3)


async def test_to_is_not_rewritten(srv):
    bob, _, cs = await account(srv, "bob", [1])
    alice = await sender(srv)
    text = tag()
    alice.send_message(mto=bob, mbody=text, mtype="chat")
    st = await wait_stanza(cs[0], body_is(text))
    if st["to"].full != bob:
        raise TestFailure("'to' rewritten to %s (RFC 6121 §8.5.2.1.1)" % st["to"])


# ---- §8.5.2.1.1: bare JID, available resources ----

async def test_bare_chat_goes_to_highest_priorities(srv):
    bob, _, cs = await account(srv, "bob", [5, 5, 1, -1, None])
    alice = await sender(srv)
    text = tag()
    alice.send_message(mto=bob, mbody=text, mtype="chat")
    await expect_delivery(cs, text, [0, 1])


async def test_bare_normal_goes_to_highest_priority(srv):
    bob, _, cs = await account(srv, "bob", [0, 3, -5])
    alice = await sender(srv)
    for mtype in ("normal", None):  # no type attribute is normal (RFC 6121 §5.2.2)
        text = tag()
        alice.send_message(mto=bob, mbody=text, mtype=mtype)
        await expect_delivery(cs, text, [1], wait=0.5)


async def test_unknown_type_is_normal(srv):
    bob, _, cs = await account(srv, "bob", [2, 1])
    alice = await sender(srv)
    text = tag()
    alice.send_raw("<message to='%s' type='bogus'><body>%s</body></message>" % (bob, text))
    await expect_delivery(cs, text, [0])


async def test_bare_headline_goes_to_all_non_negative(srv):
    bob, _, cs = await account(srv, "bob", [5, 0, -1, None])
    alice = await sender(srv)
    text = tag()
    alice.send_message(mto=bob, mbody=text, mtype="headline")
    await expect_delivery(cs, text, [0, 1])


async def test_bare_groupchat_is_an_error(srv):
    bob, _, cs = await account(srv, "bob", [5, 1])
    alice = await sender(srv)
    text = tag()
    alice.send_message(mto=bob, mbody=text, mtype="groupchat")
    await wait_stanza(alice, error_for(text, "service-unavailable"))
    await expect_delivery(cs, text, [])


async def test_bare_error_is_dropped(srv):
    bob, _, cs = await account(srv, "bob", [5])
    alice = await sender(srv)
    text = tag()
    alice.send_raw("<message to='%s' type='error'><body>%s</body>"
                   "<error type='cancel'><item-not-found xmlns='%s'/></error></message>"
                   % (bob, text, harness.NS_STANZAS))
    await expect_delivery(cs, text, [])
    await assert_no_stanza(alice, lambda s: s.name == "message" and s["body"] == text,
                           wait=0.2, what="a reply to an error")


async def test_negative_only_headline_is_dropped(srv):
    bob, _, cs = await account(srv, "bob", [-1, -2])
    alice = await sender(srv)
    text = tag()
    alice.send_message(mto=bob, mbody=text, mtype="headline")
    await expect_delivery(cs, text, [])
    await assert_no_stanza(alice, lambda s: s.name == "message" and s["body"] == text,
                           wait=0.2, what="an error for a headline")


async def test_negative_only_bodyless_chat_bounces(srv):
    # No resource takes it and offline storage keeps only messages with a
    # body: the sender gets service-unavailable (RFC 6121 §8.5.2.2.1).
    bob, _, cs = await account(srv, "bob", [-1, None])
    alice = await sender(srv)
    mid = tag()
    alice.send_raw("<message to='%s' type='chat' id='%s'>"
                   "<active xmlns='http://jabber.org/protocol/chatstates'/></message>" % (bob, mid))
    err = await wait_stanza(alice, lambda s: s.name == "message" and s["id"] == mid)
    if err["type"] != "error" or err["error"]["condition"] != "service-unavailable":
        raise TestFailure("expected service-unavailable, got %s" % err)
    await assert_no_stanza(cs[0], lambda s: s.name == "message" and s["id"] == mid, wait=0.3)


# ---- §8.5.3.2.1: full JID, no such resource ----

async def test_full_jid_missing_resource(srv):
    bob, _, cs = await account(srv, "bob", [3, 7])
    alice = await sender(srv)
    gone = bob + "/nosuch"
    # chat: as if sent to the bare JID
    text = tag()
    alice.send_message(mto=gone, mbody=text, mtype="chat")
    await expect_delivery(cs, text, [1], wait=0.3)
    # normal and groupchat: service-unavailable
    for mtype in ("normal", "groupchat"):
        text = tag()
        alice.send_message(mto=gone, mbody=text, mtype=mtype)
        await wait_stanza(alice, error_for(text, "service-unavailable"))
        await expect_delivery(cs, text, [], wait=0.2)
    # headline and error: silently dropped
    text = tag()
    alice.send_message(mto=gone, mbody=text, mtype="headline")
    await expect_delivery(cs, text, [], wait=0.3)
    await assert_no_stanza(alice, lambda s: s.name == "message" and s["body"] == text,
                           wait=0.2, what="an error for a headline")


# ---- §8.5.1: no such user ----

async def test_no_such_user(srv):
    alice = await sender(srv)
    ghost = "ghost-%s@%s" % (secrets.token_hex(3), srv.domain)
    for to in (ghost, ghost + "/res"):
        for mtype in ("chat", "normal"):
            text = tag()
            alice.send_message(mto=to, mbody=text, mtype=mtype)
            await wait_stanza(alice, error_for(text, "service-unavailable"))
        text = tag()
        alice.send_message(mto=to, mbody=text, mtype="headline")
        await assert_no_stanza(alice, lambda s: s.name == "message" and s["body"] == text,
                               wait=0.3, what="an error for a headline")


async def test_message_to_self_bare(srv):
    bob, _, cs = await account(srv, "bob", [1, 0])
    text = tag()
    cs[1].send_message(mto=bob, mbody=text, mtype="chat")
    await expect_delivery(cs, text, [0])


if __name__ == "__main__":
    run_tests([
        test_full_jid_goes_to_that_resource,
        test_to_is_not_rewritten,
        test_bare_chat_goes_to_highest_priorities,
        test_bare_normal_goes_to_highest_priority,
        test_unknown_type_is_normal,
        test_bare_headline_goes_to_all_non_negative,
        test_bare_groupchat_is_an_error,
        test_bare_error_is_dropped,
        test_negative_only_headline_is_dropped,
        test_negative_only_bodyless_chat_bounces,
        test_full_jid_missing_resource,
        test_no_such_user,
        test_message_to_self_bare,
    ], srv=Server())
