#!/usr/bin/python3
"""40-carbons: Message Carbons (XEP-0280) and the XEP-0334 <no-copy/> hint:
enabling and disabling per resource, received copies (§7) that never
duplicate what RFC 6121 delivery already gave a resource, sent copies (§8),
<private/> and <no-copy/> (§9), and the messages §6 leaves out: errors,
groupchat, headline, normal without body, private messages from a room.
The user's resources are raw peers (exact XML); the contact is slixmpp, and
one test uses slixmpp's own XEP-0280 plugin."""

import asyncio
import os
import secrets
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Server, TestFailure, connect, run_tests, wait_stanza  # noqa: E402
from roster_peer import C, Peer, error_condition, is_presence, show, users  # noqa: E402

NS_CARBONS = "urn:xmpp:carbons:2"
NS_FORWARD = "urn:xmpp:forward:0"
NS_HINTS = "urn:xmpp:hints"


def tag():
    return "c-" + secrets.token_hex(4)


def carbon(el, direction, body=None):
    """The forwarded message inside a <received/> or <sent/> carbon, or None."""
    if el.tag != C("message"):
        return None
    inner = el.find("{%s}%s/{%s}forwarded/%s" % (NS_CARBONS, direction, NS_FORWARD, C("message")))
    if inner is None or (body is not None and inner.findtext(C("body")) != body):
        return None
    return inner


def plain(el, body):
    """The original message with this body (not a carbon)."""
    return el.tag == C("message") and el.findtext(C("body")) == body


def mentions(el, body):
    """The body appears anywhere in this stanza (original or copy)."""
    return any(x.text == body for x in el.iter(C("body")))


async def resource(srv, bare, pw, name, priority=0, carbons=True, available=True):
    p = await Peer.login(srv, bare, pw, name)
    if available:
        await p.roster()
        p.presence(inner="<priority>%d</priority>" % priority)
        await p.wait(lambda s: is_presence(s, frm=p.jid), what="own presence")
    if carbons:
        await enable(p)
    return p


async def enable(p, what="enable"):
    reply = await p.iq("<%s xmlns='%s'/>" % (what, NS_CARBONS), type="set")
    if reply.get("type") != "result":
        raise TestFailure("%s: %s" % (what, show(reply)))


async def setup(srv, spec):
    """A user with resources spec = [(name, priority, carbons)], a slixmpp
    contact. Returns (bare, {name: Peer}, contact)."""
    (bare, pw), = await users(srv, 1, "alice")
    peers = {}
    for name, prio, on in spec:
        peers[name] = await resource(srv, bare, pw, name, prio, on)
    bob, bpw = srv.new_user("bob")
    contact = await connect(srv, bob + "/pc", bpw)
    await asyncio.sleep(harness.scaled(0.2))
    for p in peers.values():
        p.forget()
    return bare, peers, contact


async def quiet(peers, body, wait=0.7):
    """None of these peers received anything carrying this body."""
    await asyncio.sleep(harness.scaled(wait))
    for p in peers:
        await p.none(lambda s: mentions(s, body), wait=0.01, what="a copy of %s" % body)


async def test_disco_feature(srv):
    jid, pw = srv.new_user()
    c = await connect(srv, jid + "/disco", pw, plugins=("xep_0030",))
    info = await c["xep_0030"].get_info(jid=srv.domain, timeout=harness.TIMEOUT)
    if NS_CARBONS not in info["disco_info"]["features"]:
        raise TestFailure("no %s in the server's features" % NS_CARBONS)


async def test_enable_disable(srv):
    (bare, pw), (other, _) = await users(srv, 2)
    p = await resource(srv, bare, pw, "phone", carbons=False)
    # §10.1: repeated enable or disable is not an error
    for what in ("enable", "enable", "disable", "disable"):
        await enable(p, what)
    # to the own bare JID explicitly
    reply = await p.iq("<enable xmlns='%s'/>" % NS_CARBONS, type="set", to=bare)
    if reply.get("type") != "result" or reply.get("from") not in (None, bare):
        raise TestFailure("enable to own bare JID: %s" % show(reply))
    reply = await p.iq("<bogus xmlns='%s'/>" % NS_CARBONS, type="set")
    if error_condition(reply) != "bad-request":
        raise TestFailure("unknown element: %s" % show(reply))
    reply = await p.iq("<enable xmlns='%s'/>" % NS_CARBONS, type="get")
    if reply.get("type") != "error":
        raise TestFailure("enable as a get: %s" % show(reply))
    # someone else's account: refused
    reply = await p.iq("<enable xmlns='%s'/>" % NS_CARBONS, type="set", to=other)
    if error_condition(reply) != "service-unavailable":
        raise TestFailure("enable for another account: %s" % show(reply))


async def test_received_to_full_jid(srv):
    bare, ps, bob = await setup(srv, [("phone", 0, True), ("laptop", 0, True),
                                      ("desk", 0, False)])
    text = tag()
    bob.send_message(mto=ps["phone"].jid, mbody=text, mtype="chat")
    await ps["phone"].wait(lambda s: plain(s, text), what="the original")
    cp = await ps["laptop"].wait(lambda s: s.tag == C("message") and carbon(s, "received", text)
                                 is not None, what="received carbon")
    # §7: from the bare JID, to the full JID of the copy's resource, same type
    if cp.get("from") != bare or cp.get("to") != ps["laptop"].jid or cp.get("type") != "chat":
        raise TestFailure("carbon wrapper: %s" % show(cp))
    inner = carbon(cp, "received", text)
    if inner.get("from") != bob.boundjid.full or inner.get("to") != ps["phone"].jid:
        raise TestFailure("forwarded message: %s" % show(inner))
    await quiet([ps["desk"]], text)
    await ps["phone"].none(lambda s: carbon(s, "received", text) is not None, wait=0.01,
                           what="a carbon for the resource that got the original")
    await ps["laptop"].none(lambda s: plain(s, text), wait=0.01, what="a second original")


async def test_received_to_bare_not_duplicated(srv):
    bare, ps, bob = await setup(srv, [("phone", 5, True), ("laptop", 5, True),
                                      ("tablet", 1, True), ("desk", 1, False)])
    text = tag()
    bob.send_message(mto=bare, mbody=text, mtype="chat")
    # RFC 6121 gives it to phone and laptop (tied at 5): they get no copy
    for name in ("phone", "laptop"):
        await ps[name].wait(lambda s: plain(s, text), what="the original")
    await ps["tablet"].wait(lambda s: carbon(s, "received", text) is not None)
    await asyncio.sleep(harness.scaled(0.5))
    for name in ("phone", "laptop", "tablet"):
        got = [s for s in ps[name].all if mentions(s, text)]
        if len(got) != 1:
            raise TestFailure("%s got %d stanzas with the message" % (name, len(got)))
    await quiet([ps["desk"]], text, wait=0)


async def test_sent_carbons(srv):
    bare, ps, bob = await setup(srv, [("phone", 0, True), ("laptop", 0, True),
                                      ("desk", 0, False)])
    text = tag()
    ps["desk"].send("<message to='%s' type='chat'><body>%s</body></message>"
                    % (bob.boundjid.bare, text))
    # §8: whether or not the sender enabled carbons
    await wait_stanza(bob, lambda s: s["body"] == text)
    for name in ("phone", "laptop"):
        cp = await ps[name].wait(lambda s: carbon(s, "sent", text) is not None, what="sent carbon")
        inner = carbon(cp, "sent", text)
        if cp.get("from") != bare or cp.get("to") != ps[name].jid:
            raise TestFailure("sent carbon wrapper: %s" % show(cp))
        if inner.get("from") != ps["desk"].jid or inner.get("to") != bob.boundjid.bare:
            raise TestFailure("forwarded sent message: %s" % show(inner))
    # never back to the sending resource, even with carbons enabled
    text2 = tag()
    ps["phone"].send("<message to='%s' type='chat'><body>%s</body></message>"
                     % (bob.boundjid.full, text2))
    await ps["laptop"].wait(lambda s: carbon(s, "sent", text2) is not None)
    await quiet([ps["phone"], ps["desk"]], text2)


async def test_disable_stops_carbons(srv):
    bare, ps, bob = await setup(srv, [("phone", 0, True), ("laptop", 0, True)])
    await enable(ps["laptop"], "disable")
    text = tag()
    bob.send_message(mto=ps["phone"].jid, mbody=text, mtype="chat")
    await ps["phone"].wait(lambda s: plain(s, text))
    text2 = tag()
    ps["phone"].send("<message to='%s' type='chat'><body>%s</body></message>"
                     % (bob.boundjid.bare, text2))
    await wait_stanza(bob, lambda s: s["body"] == text2)
    await quiet([ps["laptop"]], text)
    await quiet([ps["laptop"]], text2, wait=0)
    # enabled again: copies again
    await enable(ps["laptop"])
    text3 = tag()
    bob.send_message(mto=ps["phone"].jid, mbody=text3, mtype="chat")
    await ps["laptop"].wait(lambda s: carbon(s, "received", text3) is not None)


async def test_unavailable_resource_gets_none(srv):
    (bare, pw), = await users(srv, 1, "alice")
    phone = await resource(srv, bare, pw, "phone")
    hidden = await resource(srv, bare, pw, "hidden", available=False)
    bob, bpw = srv.new_user("bob")
    c = await connect(srv, bob + "/pc", bpw)
    text = tag()
    c.send_message(mto=phone.jid, mbody=text, mtype="chat")
    await phone.wait(lambda s: plain(s, text))
    await quiet([hidden], text)


async def test_private_and_no_copy(srv):
    bare, ps, bob = await setup(srv, [("phone", 0, True), ("laptop", 0, True)])
    hints = {
        "private": "<private xmlns='%s'/>" % NS_CARBONS,
        "no-copy": "<no-copy xmlns='%s'/>" % NS_HINTS,
        "both": "<private xmlns='%s'/><no-copy xmlns='%s'/>" % (NS_CARBONS, NS_HINTS),
    }
    for name, extra in hints.items():
        # received (§9: not copied; <private/> removed before delivery)
        text = tag()
        bob.send_raw("<message to='%s' type='chat'><body>%s</body>%s</message>"
                     % (ps["phone"].jid, text, extra))
        got = await ps["phone"].wait(lambda s: plain(s, text), what="private original")
        if got.find("{%s}private" % NS_CARBONS) is not None:
            raise TestFailure("<private/> not removed before delivery: %s" % show(got))
        if "no-copy" in name and got.find("{%s}no-copy" % NS_HINTS) is None:
            raise TestFailure("the <no-copy/> hint was removed: %s" % show(got))
        # sent (§9: the sending server MUST NOT copy)
        text2 = tag()
        ps["phone"].send("<message to='%s' type='chat'><body>%s</body>%s</message>"
                         % (bob.boundjid.full, text2, extra))
        await wait_stanza(bob, lambda s: s["body"] == text2)
        await quiet([ps["laptop"]], text)
        await quiet([ps["laptop"]], text2, wait=0)
    # and a plain message right after is copied again
    text = tag()
    bob.send_message(mto=ps["phone"].jid, mbody=text, mtype="chat")
    await ps["laptop"].wait(lambda s: carbon(s, "received", text) is not None)


async def test_ineligible_messages(srv):
    """§6: errors, groupchat, headline, normal without body or IM payload,
    private messages from a room, carbons from outside: never copied."""
    bare, ps, bob = await setup(srv, [("phone", 0, True), ("laptop", 0, True)])
    to = ps["phone"].jid
    texts = []
    for mtype, extra in (("error", "<error type='cancel'><item-not-found xmlns='%s'/></error>"
                          % harness.NS_STANZAS),
                         ("groupchat", ""),
                         ("headline", ""),
                         ("chat", "<x xmlns='http://jabber.org/protocol/muc#user'/>"),
                         ("chat", "<received xmlns='%s'/>" % NS_CARBONS)):
        text = tag()
        texts.append(text)
        bob.send_raw("<message to='%s' type='%s'><body>%s</body>%s</message>"
                     % (to, mtype, text, extra))
        await ps["phone"].wait(lambda s: plain(s, text), what="%s original" % mtype)
    # normal without a body: a bare extension payload, not IM
    bob.send_raw("<message to='%s' id='nobody'><thing xmlns='urn:example:x'>%s</thing></message>"
                 % (to, "nb"))
    await ps["phone"].wait(lambda s: s.get("id") == "nobody")
    await asyncio.sleep(harness.scaled(0.7))
    for text in texts:
        await quiet([ps["laptop"]], text, wait=0)
    await ps["laptop"].none(lambda s: any(x.get("id") == "nobody" for x in s.iter()), wait=0.01,
                            what="a copy of a normal message without body")
    # sent errors are not copied either
    text = tag()
    ps["phone"].send("<message to='%s' type='error'><body>%s</body>"
                     "<error type='cancel'><item-not-found xmlns='%s'/></error></message>"
                     % (bob.boundjid.full, text, harness.NS_STANZAS))
    await quiet([ps["laptop"]], text)


async def test_eligible_without_body(srv):
    """§6: chat states (chat, no body), receipts on a normal message, and
    invitations are copied."""
    bare, ps, bob = await setup(srv, [("phone", 0, True), ("laptop", 0, True)])
    to = ps["phone"].jid
    cases = [
        ("cs", "chat", "<composing xmlns='http://jabber.org/protocol/chatstates'/>"),
        ("rcpt", None, "<received xmlns='urn:xmpp:receipts' id='x1'/>"),
        ("inv", None, "<x xmlns='http://jabber.org/protocol/muc#user'><invite from='%s'/></x>"
         % bob.boundjid.bare),
        ("dinv", None, "<x xmlns='jabber:x:conference' jid='room@conference.localhost'/>"),
    ]
    for ident, mtype, payload in cases:
        t = " type='%s'" % mtype if mtype else ""
        bob.send_raw("<message to='%s' id='%s'%s>%s</message>" % (to, ident, t, payload))
        await ps["phone"].wait(lambda s: s.get("id") == ident)
        await ps["laptop"].wait(lambda s: (carbon(s, "received") is not None and
                                           carbon(s, "received").get("id") == ident),
                                what="carbon of %s" % ident)


async def test_own_messages(srv):
    """A message to another resource of one's own account is copied once,
    as received, and never to its sender."""
    bare, ps, bob = await setup(srv, [("phone", 0, True), ("laptop", 0, True),
                                      ("tablet", 0, True)])
    text = tag()
    ps["phone"].send("<message to='%s' type='chat'><body>%s</body></message>"
                     % (ps["laptop"].jid, text))
    await ps["laptop"].wait(lambda s: plain(s, text))
    await ps["tablet"].wait(lambda s: carbon(s, "received", text) is not None)
    await asyncio.sleep(harness.scaled(0.5))
    got = [s for s in ps["tablet"].all if mentions(s, text)]
    if len(got) != 1:
        raise TestFailure("tablet got %d copies: %s" % (len(got), [show(s) for s in got]))
    await quiet([ps["phone"]], text, wait=0)


async def test_offline_with_negative_priority_copy(srv):
    """§7: a message stored offline (no resource with priority >= 0) still
    reaches a carbons-enabled resource with a negative priority as a copy."""
    bare, ps, bob = await setup(srv, [("phone", -1, True)])
    text = tag()
    bob.send_message(mto=bare, mbody=text, mtype="chat")
    await ps["phone"].wait(lambda s: carbon(s, "received", text) is not None)


async def test_slixmpp_plugin(srv):
    """slixmpp's XEP-0280 plugin enables carbons and sees both kinds."""
    (bare, pw), = await users(srv, 1, "alice")
    phone = await resource(srv, bare, pw, "phone", carbons=False)
    c = await connect(srv, bare + "/slix", pw, plugins=("xep_0280",))
    await c["xep_0280"].enable(timeout=harness.TIMEOUT)
    received, sent = asyncio.get_running_loop().create_future(), \
        asyncio.get_running_loop().create_future()
    c.add_event_handler("carbon_received", lambda m: received.done() or received.set_result(m))
    c.add_event_handler("carbon_sent", lambda m: sent.done() or sent.set_result(m))
    bob, bpw = srv.new_user("bob")
    b = await connect(srv, bob + "/pc", bpw)
    text = tag()
    b.send_message(mto=phone.jid, mbody=text, mtype="chat")
    m = await asyncio.wait_for(received, harness.TIMEOUT)
    if m["carbon_received"]["body"] != text:
        raise TestFailure("carbon_received: %s" % m)
    text2 = tag()
    phone.send("<message to='%s' type='chat'><body>%s</body></message>" % (bob, text2))
    m = await asyncio.wait_for(sent, harness.TIMEOUT)
    if m["carbon_sent"]["body"] != text2:
        raise TestFailure("carbon_sent: %s" % m)


if __name__ == "__main__":
    run_tests([test_disco_feature, test_enable_disable, test_received_to_full_jid,
               test_received_to_bare_not_duplicated, test_sent_carbons,
               test_disable_stops_carbons, test_unavailable_resource_gets_none,
               test_private_and_no_copy, test_ineligible_messages, test_eligible_without_body,
               test_own_messages, test_offline_with_negative_priority_copy,
               test_slixmpp_plugin],
              srv=Server(), timeout=120)
