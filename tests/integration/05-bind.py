#!/usr/bin/python3
"""05-bind: resource binding (RFC 6120 §7), the legacy session IQ (RFC 3921
§3, kept as optional by RFC 6121 Appendix E), and stanzas sent too early
(RFC 6120 §4.9.3.12 not-authorized, §7.1)."""

import re

from harness import NS_BIND, NS_SESSION, NS_SASL, RawClient, Server, TestFailure, run_tests

srv = Server()


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def authed(srv, jid=None, pw=None):
    if jid is None:
        jid, pw = srv.new_user()
    r = RawClient(srv)
    r.open()
    r.starttls()
    r.auth(jid, pw)
    return r, jid, pw


async def test_bind_feature_offered(srv):
    r, jid, _ = authed(srv)
    check(re.search(r"<bind xmlns=['\"]%s['\"]" % re.escape(NS_BIND), r.features),
          "no bind feature after authentication: %s" % r.features)
    # RFC 6121 Appendix E: if session is advertised it must be optional.
    m = re.search(r"<session xmlns=['\"]%s['\"]\s*(/>|>(.*?)</session>)" % re.escape(NS_SESSION), r.features, re.S)
    if m:
        check(m.group(2) and "<optional" in m.group(2), "session feature without <optional/>: %s" % m.group(0))


async def test_server_generated_resource(srv):
    jid, pw = srv.new_user()
    r, _, _ = authed(srv, jid, pw)
    full = r.bind()
    check(full.startswith(jid + "/") and len(full) > len(jid) + 1, "bound JID %r for %s" % (full, jid))
    r2, _, _ = authed(srv, jid, pw)
    full2 = r2.bind()
    check(full2 != full, "two server-generated resources are equal: %s" % full)
    # Both sessions stay: generated resources never conflict.
    check(not r.closed(0.3), "the first session was closed by the second bind")


def new_user(srv):
    return srv.new_user()


async def test_client_chosen_resource(srv):
    jid, pw = new_user(srv)
    r, _, _ = authed(srv, jid, pw)
    check(r.bind("phone") == jid + "/phone", "bound %r, asked for %s/phone" % (r.jid, jid))


async def test_resourceprep(srv):
    # RFC 7622 §3.4: the resourcepart is normalised (NFC here: e + U+0301 → é).
    jid, pw = new_user(srv)
    r, _, _ = authed(srv, jid, pw)
    full = r.bind("caf\u0065\u0301")
    check(full == jid + "/caf\u00e9", "resource not normalised: %r" % full)


async def test_resource_too_long(srv):
    # RFC 7622 §3.4.1: at most 1023 octets; RFC 6120 §7.7.2.1 bad-request.
    jid, pw = new_user(srv)
    r, _, _ = authed(srv, jid, pw)
    reply = r.bind("r" * 1100, check=False)
    check("type='error'" in reply or 'type="error"' in reply, "1100-octet resource accepted: %s" % reply[:200])
    check("<bad-request" in reply, "want bad-request: %s" % reply[:300])


async def test_conflict_replaces_old_session(srv):
    # RFC 6120 §7.7.2.2, option 1: the new session wins, the old one gets
    # a <conflict/> stream error.
    jid, pw = new_user(srv)
    old, _, _ = authed(srv, jid, pw)
    old.bind("desk")
    new, _, _ = authed(srv, jid, pw)
    check(new.bind("desk") == jid + "/desk", "the new session did not get %s/desk" % jid)
    old.expect_stream_error("conflict")
    # The new session works.
    reply = new.roundtrip()
    check("type='error'" in reply or 'type="error"' in reply or "result" in reply, "new session dead")


async def test_iq_to_full_jid_reaches_new_session(srv):
    # After a conflict, stanzas for user/desk go to the new session.
    jid, pw = new_user(srv)
    a, _, _ = authed(srv, jid, pw)
    a.bind("desk")
    b, _, _ = authed(srv, jid, pw)
    b.bind("desk")
    a.expect_stream_error("conflict")
    sender, sjid, _ = authed(srv)
    sender.bind("s")
    sender.send("<iq type='get' id='to-desk' to='%s/desk'><query xmlns='urn:aldis:test:probe'/></iq>" % jid)
    got = b.expect_stanza("iq", id="to-desk")
    check(sjid + "/s" in got, "IQ delivered without the sender's JID: %s" % got)


async def test_legacy_session(srv):
    jid, pw = new_user(srv)
    r, _, _ = authed(srv, jid, pw)
    r.bind()
    reply = r.iq("<session xmlns='%s'/>" % NS_SESSION, type="set")
    check(re.search(r"type=['\"]result['\"]", reply), "legacy session IQ not acknowledged: %s" % reply)


async def test_stanza_before_auth(srv):
    # RFC 6120 §4.9.3.12: stanzas before authentication → not-authorized.
    jid, _ = new_user(srv)
    r = RawClient(srv)
    r.open()
    r.starttls()
    r.send("<message to='%s'><body>too early</body></message>" % jid)
    r.expect_stream_error("not-authorized")


async def test_stanza_before_tls(srv):
    jid, _ = new_user(srv)
    r = RawClient(srv)
    r.open()
    r.send("<message to='%s'><body>too early</body></message>" % jid)
    r.expect_stream_error(("not-authorized", "policy-violation"))


async def test_stanza_before_bind(srv):
    # RFC 6120 §7.1: no stanzas until a resource is bound. Whatever the
    # server answers, the message must not reach the recipient.
    rjid, rpw = new_user(srv)
    rcpt, _, _ = authed(srv, rjid, rpw)
    rcpt.bind("r")
    rcpt.send("<presence/>")
    r, jid, _ = authed(srv)
    r.send("<message to='%s/r' type='chat' id='early'><body>before bind</body></message>" % rjid)
    m = r.expect(r"<stream:error>.*?</stream:error>|<message\b[^>]*type=['\"]error['\"].*?</message>")
    if m.group(0).startswith("<stream:error>"):
        check(re.search(r"<(not-authorized|policy-violation)\b", m.group(0)), "got %s" % m.group(0))
    check("before bind" not in rcpt.read_for(0.5), "a stanza sent before bind was delivered")


async def test_bind_twice(srv):
    # One resource per stream (RFC 6120 §7.1): a second bind must not
    # succeed with a second JID.
    jid, pw = new_user(srv)
    r, _, _ = authed(srv, jid, pw)
    r.bind("one")
    r.send("<iq type='set' id='bind-again'><bind xmlns='%s'><resource>two</resource></bind></iq>" % NS_BIND)
    m = r.expect(r"<iq\b[^>]*id=['\"]bind-again['\"].*?</iq>|<iq\b[^>]*id=['\"]bind-again['\"][^>]*/>|<stream:error>")
    text = m.group(0)
    if text.startswith("<iq") and re.search(r"type=['\"]result['\"]", text):
        check("/two" not in text, "second resource bound on one stream: %s" % text)


async def test_sasl_after_bind_refused(srv):
    jid, pw = new_user(srv)
    r, _, _ = authed(srv, jid, pw)
    r.bind()
    r.send("<auth xmlns='%s' mechanism='PLAIN'>AGEAYg==</auth>" % NS_SASL)
    m = r.expect(r"<success\b|<failure\b|<stream:error>")
    check(not m.group(0).startswith("<success"), "SASL success after bind")


if __name__ == "__main__":
    run_tests([
        test_bind_feature_offered, test_server_generated_resource, test_client_chosen_resource,
        test_resourceprep, test_resource_too_long, test_conflict_replaces_old_session,
        test_iq_to_full_jid_reaches_new_session, test_legacy_session, test_stanza_before_auth,
        test_stanza_before_tls, test_stanza_before_bind, test_bind_twice,
        test_sasl_after_bind_refused,
    ], srv)
