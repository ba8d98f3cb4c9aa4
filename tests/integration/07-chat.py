#!/usr/bin/python3
"""07-chat: the headline acceptance test. Two ordinary XMPP clients
(slixmpp) log in with SCRAM-SHA-256 over STARTTLS, subscribe to each other
(RFC 6121 §3), see each other online, and chat both ways (RFC 6121 §5)."""


import harness
from harness import Server, TestFailure, connect, run_tests, wait_stanza

srv = Server()


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def bare(jid):
    return str(jid).split("/")[0]


def is_presence(kind, sender):
    return lambda s: s.name == "presence" and s["type"] == kind and bare(s["from"]) == sender


async def login(srv, jid, pw, resource):
    c = await connect(srv, "%s/%s" % (jid, resource), pw, mech="SCRAM-SHA-256")
    # Subscriptions are answered by the test itself, not by slixmpp.
    c.auto_authorize = None
    c.auto_subscribe = False
    return c


def assert_secure_scram(c):
    ssl_obj = c.transport.get_extra_info("ssl_object") if c.transport else None
    check(ssl_obj is not None, "%s: the stream is not encrypted" % c.boundjid)
    check(ssl_obj.version() in ("TLSv1.2", "TLSv1.3"), "%s: %s" % (c.boundjid, ssl_obj.version()))
    mech = getattr(c["feature_mechanisms"], "mech", None)
    name = getattr(mech, "name", None) or (mech.__class__.__name__ if mech else None)
    check(name is None or "SCRAM-SHA-256" in str(name) or "SCRAM" in str(name),
          "%s: authenticated with %s" % (c.boundjid, name))


async def subscribe_both_ways(alice, a, bob, b):
    """RFC 6121 §3.1: alice asks, bob approves and asks back, alice approves."""
    alice.send_presence(pto=b, ptype="subscribe")
    await wait_stanza(bob, is_presence("subscribe", a))
    bob.send_presence(pto=a, ptype="subscribed")
    await wait_stanza(alice, is_presence("subscribed", b))
    bob.send_presence(pto=a, ptype="subscribe")
    await wait_stanza(alice, is_presence("subscribe", b))
    alice.send_presence(pto=b, ptype="subscribed")
    await wait_stanza(bob, is_presence("subscribed", a))


async def roster_subscription(client, contact):
    await client.get_roster(timeout=harness.TIMEOUT)
    return client.client_roster[contact]["subscription"] if contact in client.client_roster else None


async def test_two_clients_subscribe_and_chat(srv):
    a, apw = srv.new_user("alice")
    b, bpw = srv.new_user("bob")
    alice = await login(srv, a, apw, "laptop")
    bob = await login(srv, b, bpw, "phone")
    assert_secure_scram(alice)
    assert_secure_scram(bob)
    check(str(alice.boundjid) == a + "/laptop", "alice bound %s" % alice.boundjid)
    check(str(bob.boundjid) == b + "/phone", "bob bound %s" % bob.boundjid)

    await subscribe_both_ways(alice, a, bob, b)

    # Once subscribed both ways each sees the other's available presence
    # (RFC 6121 §3.1.5 / §4.3.2: the server probes and forwards).
    await wait_stanza(alice, lambda s: s.name == "presence" and s["type"] in ("", "available")
                      and str(s["from"]) == b + "/phone")
    await wait_stanza(bob, lambda s: s.name == "presence" and s["type"] in ("", "available")
                      and str(s["from"]) == a + "/laptop")
    check(await roster_subscription(alice, b) == "both", "alice's roster: bob is not 'both'")
    check(await roster_subscription(bob, a) == "both", "bob's roster: alice is not 'both'")

    # Chat both ways, addressed to the bare JID (RFC 6121 §8.5.2.1.1).
    alice.send_message(mto=b, mbody="Hello Bob <&> \"quoted\" 'single' \u00e9\u65e5", mtype="chat")
    msg = await wait_stanza(bob, lambda s: s.name == "message" and s["type"] == "chat" and s["body"])
    check(msg["body"] == "Hello Bob <&> \"quoted\" 'single' \u00e9\u65e5", "bob got body %r" % msg["body"])
    check(str(msg["from"]) == a + "/laptop", "bob got from=%s" % msg["from"])
    check(bare(msg["to"]) == b, "bob got to=%s" % msg["to"])

    bob.send_message(mto=msg["from"], mbody="Hi Alice", mtype="chat")
    reply = await wait_stanza(alice, lambda s: s.name == "message" and s["body"] == "Hi Alice")
    check(str(reply["from"]) == b + "/phone", "alice got from=%s" % reply["from"])
    check(reply["type"] == "chat", "alice got type=%s" % reply["type"])

    # A short conversation keeps its order.
    for i in range(5):
        alice.send_message(mto=b, mbody="line %d" % i, mtype="chat")
    for i in range(5):
        got = await wait_stanza(bob, lambda s: s.name == "message" and s["body"].startswith("line "))
        check(got["body"] == "line %d" % i, "out of order: got %r, want 'line %d'" % (got["body"], i))


async def test_offline_goes_unavailable(srv):
    # When one disconnects the other sees unavailable presence (RFC 6121 §4.5).
    a, apw = srv.new_user("carol")
    b, bpw = srv.new_user("dave")
    carol = await login(srv, a, apw, "pc")
    dave = await login(srv, b, bpw, "pc")
    await subscribe_both_ways(carol, a, dave, b)
    await wait_stanza(carol, lambda s: s.name == "presence" and str(s["from"]) == b + "/pc"
                      and s["type"] in ("", "available"))
    await harness.disconnect(dave)
    await wait_stanza(carol, lambda s: s.name == "presence" and str(s["from"]) == b + "/pc"
                      and s["type"] == "unavailable")


if __name__ == "__main__":
    run_tests([test_two_clients_subscribe_and_chat, test_offline_goes_unavailable], srv)
