#!/usr/bin/python3
"""06-from-stamping: the server owns the 'from' of what a client sends
(RFC 6120 §8.1.2.1): it stamps the sender's full JID, and a spoofed 'from'
is either replaced, refused with a stanza error, or ends the stream with
<invalid-from/> (§4.9.3.9) -- but is never delivered. Addressing errors:
an unserved domain → remote-server-not-found (§8.3.3.16), a malformed
'to' → jid-malformed (§8.3.3.8); error replies come from the addressee
(§8.3.1)."""

import re

from harness import RawClient, Server, TestFailure, run_tests

srv = Server()


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def attrs_of(stanza_text):
    head = re.match(r"<\w+\b([^>]*)>", stanza_text).group(1)
    return dict((k, v) for k, _, v in re.findall(r"([\w:]+)=(['\"])(.*?)\2", head))


def online(srv, resource="r"):
    jid, pw = srv.new_user()
    r = RawClient(srv)
    r.login(jid, pw, resource)
    r.send("<presence/>")
    return r, jid


async def test_iq_from_stamped(srv):
    # IQ to a full JID is routed by the core to that session.
    a, ajid = online(srv, "a")
    b, bjid = online(srv, "b")
    a.send("<iq type='get' id='st1' to='%s'><query xmlns='urn:aldis:test:probe'/></iq>" % b.jid)
    got = b.expect_stanza("iq", id="st1")
    check(attrs_of(got).get("from") == a.jid, "from=%r, want %r" % (attrs_of(got).get("from"), a.jid))
    check(attrs_of(got).get("to") == b.jid, "to=%r" % attrs_of(got).get("to"))
    # The reply travels back with b's JID stamped.
    b.send("<iq type='result' id='st1' to='%s'/>" % a.jid)
    reply = a.expect_stanza("iq", id="st1")
    check(attrs_of(reply).get("from") == b.jid, "reply from=%r, want %r" % (attrs_of(reply).get("from"), b.jid))


async def test_message_from_stamped(srv):
    a, ajid = online(srv, "a")
    b, bjid = online(srv, "b")
    a.send("<message type='chat' id='m1' to='%s'><body>stamp me</body></message>" % b.jid)
    got = b.expect_stanza("message", id="m1")
    check(attrs_of(got).get("from") == a.jid, "from=%r, want %r" % (attrs_of(got).get("from"), a.jid))


async def test_own_full_jid_accepted(srv):
    # A correct 'from' is not an error.
    a, ajid = online(srv, "a")
    b, bjid = online(srv, "b")
    a.send("<iq type='get' id='own' from='%s' to='%s'><query xmlns='urn:aldis:test:probe'/></iq>" % (a.jid, b.jid))
    got = b.expect_stanza("iq", id="own")
    check(attrs_of(got).get("from") == a.jid, "from=%r" % attrs_of(got).get("from"))


def _spoof_outcome(sender, rcpt, rcpt_kind, stanza_id, spoofed):
    """Whatever the server does with a spoofed 'from', the recipient must
    never see it. Returns what the sender got."""
    sender_saw = sender.read_for(1.0)
    rcpt_saw = rcpt.read_for(0.5)
    check(spoofed is None or spoofed not in rcpt_saw, "delivered with the spoofed from %s: %s" % (spoofed, rcpt_saw[-400:]))
    m = re.search(r"<%s\b[^>]*\bid=['\"]%s['\"][^>]*>" % (rcpt_kind, stanza_id), rcpt_saw)
    if m:
        check(attrs_of(m.group(0)).get("from") == sender.jid,
              "delivered with from=%r, want the real sender %r" % (attrs_of(m.group(0)).get("from"), sender.jid))
    if "<stream:error>" in sender_saw:
        check(re.search(r"<stream:error>\s*<invalid-from\b", sender_saw), "sender got %s" % sender_saw[-300:])
    return sender_saw


async def test_spoofed_from_other_user_iq(srv):
    a, ajid = online(srv, "a")
    b, bjid = online(srv, "b")
    c, cjid = online(srv, "c")
    a.send("<iq type='get' id='spoof1' from='%s' to='%s'><query xmlns='urn:aldis:test:probe'/></iq>" % (c.jid, b.jid))
    _spoof_outcome(a, b, "iq", "spoof1", c.jid)


async def test_spoofed_from_other_user_message(srv):
    a, ajid = online(srv, "a")
    b, bjid = online(srv, "b")
    a.send("<message type='chat' id='spoof2' from='victim@%s/x' to='%s'><body>hi</body></message>"
           % (srv.domain, b.jid))
    _spoof_outcome(a, b, "message", "spoof2", "victim@%s" % srv.domain)


async def test_spoofed_from_own_other_resource(srv):
    # Another resource of the same account is still not this session.
    a, ajid = online(srv, "a")
    b, bjid = online(srv, "b")
    a.send("<iq type='get' id='spoof3' from='%s/other' to='%s'><query xmlns='urn:aldis:test:probe'/></iq>"
           % (ajid, b.jid))
    _spoof_outcome(a, b, "iq", "spoof3", ajid + "/other")


async def test_spoofed_from_server(srv):
    a, ajid = online(srv, "a")
    b, bjid = online(srv, "b")
    a.send("<message type='chat' id='spoof4' from='%s' to='%s'><body>admin says</body></message>"
           % (srv.domain, b.jid))
    _spoof_outcome(a, b, "message", "spoof4", None)
    check(not re.search(r"<message\b(?=[^>]*id=['\"]spoof4['\"])[^>]*from=['\"]%s['\"]" % re.escape(srv.domain),
                        b.received), "delivered with from=<the server>")


async def test_remote_domain_message(srv):
    a, ajid = online(srv, "a")
    a.send("<message type='chat' id='rm1' to='someone@remote.invalid'><body>x</body></message>")
    got = a.expect_stanza("message", id="rm1")
    at = attrs_of(got)
    check(at.get("type") == "error", "no error for an unserved domain: %s" % got)
    check(re.search(r"<error\b[^>]*type=['\"]cancel['\"]", got), "error type is not cancel: %s" % got)
    check("<remote-server-not-found" in got, "want remote-server-not-found: %s" % got)
    check(at.get("from") == "someone@remote.invalid", "error from=%r, want the original to" % at.get("from"))
    check(at.get("to") == a.jid, "error to=%r" % at.get("to"))


async def test_remote_domain_iq(srv):
    a, ajid = online(srv, "a")
    reply = a.iq("<query xmlns='jabber:iq:version'/>", to="remote.invalid")
    check(re.search(r"type=['\"]error['\"]", reply) and "<remote-server-not-found" in reply,
          "want remote-server-not-found: %s" % reply)


async def test_remote_domain_error_not_bounced(srv):
    # §8.3.1: never answer an error with an error.
    a, ajid = online(srv, "a")
    a.send("<message type='error' id='rm2' to='x@remote.invalid'><error type='cancel'>"
           "<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
    check("rm2" not in a.read_for(1.0), "an error stanza was bounced")


async def test_malformed_to(srv):
    a, ajid = online(srv, "a")
    for bad in ("a@b@c", "@%s" % srv.domain, "user@", "x" * 1100 + "@" + srv.domain):
        reply = a.iq("<query xmlns='urn:aldis:test:probe'/>", to=bad)
        check(re.search(r"type=['\"]error['\"]", reply) and "<jid-malformed" in reply,
              "to=%r: want jid-malformed, got %s" % (bad[:40], reply[:300]))


async def test_server_error_reply_from_domain(srv):
    # An IQ to the server for an unserved namespace: service-unavailable
    # from the server's JID to the full JID (§8.3.1, §8.4).
    a, ajid = online(srv, "a")
    reply = a.roundtrip()
    at = attrs_of(reply)
    check(at.get("type") == "error" and "<service-unavailable" in reply, "got %s" % reply)
    check(at.get("from") == srv.domain, "error from=%r, want %r" % (at.get("from"), srv.domain))
    check(at.get("to") == a.jid, "error to=%r, want %r" % (at.get("to"), a.jid))


async def test_iq_to_unbound_full_jid(srv):
    # RFC 6120 §10.5.3.2 (via RFC 6121 §8.5.3.2.1): IQ to a resource that is
    # not bound → service-unavailable.
    a, ajid = online(srv, "a")
    b, bjid = online(srv, "b")
    reply = a.iq("<query xmlns='urn:aldis:test:probe'/>", to=bjid + "/nosuchresource")
    check(re.search(r"type=['\"]error['\"]", reply) and "<service-unavailable" in reply,
          "want service-unavailable: %s" % reply)
    check(attrs_of(reply).get("from") == bjid + "/nosuchresource", "from=%r" % attrs_of(reply).get("from"))


if __name__ == "__main__":
    run_tests([
        test_iq_from_stamped, test_message_from_stamped, test_own_full_jid_accepted,
        test_spoofed_from_other_user_iq, test_spoofed_from_other_user_message,
        test_spoofed_from_own_other_resource, test_spoofed_from_server,
        test_remote_domain_message, test_remote_domain_iq, test_remote_domain_error_not_bounced,
        test_malformed_to, test_server_error_reply_from_domain, test_iq_to_unbound_full_jid,
    ], srv)
