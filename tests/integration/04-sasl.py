#!/usr/bin/python3
"""04-sasl: SASL authentication (RFC 6120 §6, RFC 5802 SCRAM, RFC 9266
tls-exporter, RFC 4616 PLAIN) and failed-login throttling.

RawClient carries a real SCRAM client: it checks the server signature, so a
server that accepts anything fails here."""

import base64
import re
import ssl
import time

from harness import NS_SASL, RawClient, Server, TestFailure, run_tests

# Throttling is per source address and every test here comes from
# 127.0.0.1: keep it out of the way of the other tests.
srv = Server(config={"auth.fail_per_ip": 1000, "auth.fail_per_account": 1000})


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def tls_stream(srv, tls13=True):
    r = RawClient(srv)
    r.open()
    v = ssl.TLSVersion.TLSv1_3 if tls13 else ssl.TLSVersion.TLSv1_2
    r.starttls(min_version=v, max_version=v)
    return r


def local(jid):
    return jid.split("@")[0]


async def test_mechanisms_offered(srv):
    r = tls_stream(srv)
    mechs = r.mechanisms()
    for m in ("SCRAM-SHA-1", "SCRAM-SHA-256", "PLAIN"):
        check(m in mechs, "%s not offered over TLS: %s" % (m, mechs))
    check("SCRAM-SHA-256-PLUS" in mechs, "SCRAM-SHA-256-PLUS not offered over TLS 1.3: %s" % mechs)
    check("ANONYMOUS" not in mechs, "ANONYMOUS offered")


async def test_scram_sha1(srv):
    jid, pw = srv.new_user()
    r = tls_stream(srv)
    r.auth(local(jid), pw, "SCRAM-SHA-1")
    check(r.bind().startswith(jid + "/"), "bind after SCRAM-SHA-1")


async def test_scram_sha256(srv):
    jid, pw = srv.new_user()
    r = tls_stream(srv)
    r.auth(local(jid), pw, "SCRAM-SHA-256")
    check(r.bind().startswith(jid + "/"), "bind after SCRAM-SHA-256")


async def test_scram_sha256_over_tls12(srv):
    jid, pw = srv.new_user()
    r = tls_stream(srv, tls13=False)
    r.auth(local(jid), pw, "SCRAM-SHA-256")
    r.bind()


async def test_scram_sha256_plus_tls_exporter(srv):
    jid, pw = srv.new_user()
    r = tls_stream(srv)
    check(r.sock.version() == "TLSv1.3", "not TLS 1.3")
    r.auth(local(jid), pw, "SCRAM-SHA-256-PLUS")
    check(r.bind().startswith(jid + "/"), "bind after SCRAM-SHA-256-PLUS")


async def test_scram_plus_wrong_binding_refused(srv):
    # RFC 5802 §6: channel-binding data that does not match this TLS
    # connection must fail, even with the right password.
    jid, pw = srv.new_user()
    r = tls_stream(srv)
    cond = r.auth(local(jid), pw, "SCRAM-SHA-256-PLUS", check=False, cb_data=b"\0" * 32)
    check(cond == "not-authorized", "wrong channel binding: got %s, want not-authorized" % cond)


async def test_scram_downgrade_detected(srv):
    # RFC 5802 §6: the client says "y" (it supports binding but thinks the
    # server does not) while the server does offer -PLUS: that is a
    # downgrade and must fail.
    jid, pw = srv.new_user()
    r = tls_stream(srv)
    check("SCRAM-SHA-256-PLUS" in r.mechanisms(), "precondition: -PLUS offered")
    cond = r.auth(local(jid), pw, "SCRAM-SHA-256", check=False, gs2="y,,")
    check(cond == "not-authorized", "gs2 'y' with -PLUS offered: got %s, want not-authorized" % cond)


async def test_plain_over_tls(srv):
    # RFC 4616 §2: an empty authzid means "act as the authcid".
    jid, pw = srv.new_user()
    r = tls_stream(srv)
    r.auth(local(jid), pw, "PLAIN")
    r.bind()


async def test_plain_with_own_authzid(srv):
    # RFC 6120 §6.3.8: an authzid equal to the user's own bare JID is fine.
    jid, pw = srv.new_user()
    r = tls_stream(srv)
    r.auth(local(jid), pw, "PLAIN", authzid=jid)
    check(r.bind().startswith(jid + "/"), "bind after PLAIN with authzid")


async def test_authzid_of_another_user_refused(srv):
    # RFC 6120 §6.4.6 / §6.5.8: acting as someone else → invalid-authzid.
    jid, pw = srv.new_user()
    other, _ = srv.new_user()
    r = tls_stream(srv)
    cond = r.auth(local(jid), pw, "SCRAM-SHA-256", check=False, authzid=other)
    check(cond == "invalid-authzid", "authzid of another user: got %s, want invalid-authzid" % cond)


async def test_plain_unicode_password(srv):
    jid, _ = srv.new_user()
    pw = "p\u00e4ssw\u00f6rd-\u65e5\u672c"
    srv.ctl("user", "passwd", jid, pw)
    r = tls_stream(srv)
    r.auth(local(jid), pw, "PLAIN")


async def test_plain_not_offered_before_tls(srv):
    r = RawClient(srv)
    feats = r.open()
    check("PLAIN" not in feats, "PLAIN offered before TLS: %s" % feats)


async def test_unicode_password(srv):
    # RFC 5802 §5.1 / RFC 4013: passwords are SASLprep'ed; a plain
    # non-ASCII password must work.
    jid, _ = srv.new_user()
    pw = "p\u00e4ssw\u00f6rd-\u65e5\u672c"
    srv.ctl("user", "passwd", jid, pw)
    for mech in ("SCRAM-SHA-256", "SCRAM-SHA-1"):
        r = tls_stream(srv)
        r.auth(local(jid), pw, mech)


async def test_wrong_password(srv):
    jid, pw = srv.new_user()
    for mech in ("SCRAM-SHA-1", "SCRAM-SHA-256", "PLAIN"):
        r = tls_stream(srv)
        cond = r.auth(local(jid), pw + "x", mech, check=False)
        check(cond == "not-authorized", "%s wrong password: got %s" % (mech, cond))


async def test_unknown_user(srv):
    for mech in ("SCRAM-SHA-256", "PLAIN"):
        r = tls_stream(srv)
        cond = r.auth("nosuchuser", "whatever", mech, check=False)
        check(cond == "not-authorized", "%s unknown user: got %s" % (mech, cond))


async def test_retry_after_failure(srv):
    # RFC 6120 §6.4.5: the server SHOULD allow a few retries on one stream.
    jid, pw = srv.new_user()
    r = tls_stream(srv)
    check(r.auth(local(jid), "bad", check=False) == "not-authorized", "first attempt not refused")
    r.auth(local(jid), pw)
    r.bind()


async def test_incorrect_encoding(srv):
    # RFC 6120 §6.5.2: data that is not base64.
    r = tls_stream(srv)
    r.send("<auth xmlns='%s' mechanism='PLAIN'>!!not*base64%%%%</auth>" % NS_SASL)
    m = r.expect(r"<failure\b[^>]*>(.*?)</failure>")
    check(re.search(r"<incorrect-encoding\s*/>", m.group(1)), "got %s, want incorrect-encoding" % m.group(0))


async def test_malformed_request(srv):
    # RFC 6120 §6.5.7: base64 is fine but the data is not SCRAM syntax.
    r = tls_stream(srv)
    r.send("<auth xmlns='%s' mechanism='SCRAM-SHA-256'>%s</auth>"
           % (NS_SASL, base64.b64encode(b"this is not scram").decode()))
    m = r.expect(r"<failure\b[^>]*>(.*?)</failure>")
    check(re.search(r"<malformed-request\s*/>", m.group(1)), "got %s, want malformed-request" % m.group(0))


async def test_invalid_mechanism(srv):
    # RFC 6120 §6.5.6
    r = tls_stream(srv)
    r.send("<auth xmlns='%s' mechanism='X-NO-SUCH-MECH'/>" % NS_SASL)
    m = r.expect(r"<failure\b[^>]*>(.*?)</failure>")
    check(re.search(r"<invalid-mechanism\s*/>", m.group(1)), "got %s, want invalid-mechanism" % m.group(0))


async def test_abort(srv):
    # RFC 6120 §6.4.4: <abort/> mid-exchange → <failure><aborted/>; a new
    # attempt on the same stream then works.
    jid, pw = srv.new_user()
    r = tls_stream(srv)
    first = "n,,n=%s,r=abcdefghijklmnop" % local(jid)
    r.send("<auth xmlns='%s' mechanism='SCRAM-SHA-256'>%s</auth>" % (NS_SASL, base64.b64encode(first.encode()).decode()))
    r.expect(r"<challenge\b[^>]*>[^<]*</challenge>")
    r.send("<abort xmlns='%s'/>" % NS_SASL)
    m = r.expect(r"<failure\b[^>]*>(.*?)</failure>")
    check(re.search(r"<aborted\s*/>", m.group(1)), "got %s, want aborted" % m.group(0))
    r.auth(local(jid), pw)
    r.bind()


async def test_auth_twice_refused(srv):
    # RFC 6120 §6.4.6: after success the stream restarts; a new <auth/> is
    # not allowed on an authenticated stream.
    jid, pw = srv.new_user()
    r = tls_stream(srv)
    r.auth(local(jid), pw)
    check("<mechanisms" not in r.features, "mechanisms offered after authentication: %s" % r.features)
    r.send("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>"
           % (NS_SASL, base64.b64encode(("\0%s\0%s" % (local(jid), pw)).encode()).decode()))
    m = r.expect(r"<success\b|<failure\b|<stream:error>")
    check(not m.group(0).startswith("<success"), "second authentication accepted")


def _login_result(server, user, pw):
    """(condition or None, seconds taken) for one SCRAM login attempt."""
    r = RawClient(server)
    r.open()
    r.starttls()
    start = time.monotonic()
    try:
        cond = r.auth(user, pw, "SCRAM-SHA-256", check=False, reopen=False)
    except TestFailure as e:
        cond = "closed (%s)" % str(e)[:60]
    took = time.monotonic() - start
    r.close()
    return cond, took


async def test_throttle_per_ip(srv):
    # After auth.fail_per_ip failures within the window, even the right
    # password must not get in at once (refused, or held back >= 1 s).
    s = Server(config={"auth.fail_per_ip": 3, "auth.fail_per_account": 1000, "auth.fail_window": 60})
    try:
        s.start()
        victim, vpw = s.new_user()
        other, opw = s.new_user()
        for _ in range(3):
            cond, _ = _login_result(s, local(victim), "wrong")
            check(cond is not None, "wrong password accepted")
        cond, took = _login_result(s, local(other), opw)
        check(cond is not None or took >= 1.0,
              "right password of another account accepted at once (%.2f s) after 3 failures from this address"
              % took)
    finally:
        s.stop()
        s.cleanup()


async def test_throttle_per_account(srv):
    s = Server(config={"auth.fail_per_ip": 1000, "auth.fail_per_account": 3, "auth.fail_window": 60})
    try:
        s.start()
        victim, vpw = s.new_user()
        other, opw = s.new_user()
        for _ in range(3):
            cond, _ = _login_result(s, local(victim), "wrong")
            check(cond is not None, "wrong password accepted")
        cond, took = _login_result(s, local(victim), vpw)
        check(cond is not None or took >= 1.0,
              "throttled account logged in at once (%.2f s) after 3 failures" % took)
        # Another account is not affected.
        cond, took = _login_result(s, local(other), opw)
        check(cond is None, "an unrelated account was refused (%s)" % cond)
    finally:
        s.stop()
        s.cleanup()


if __name__ == "__main__":
    run_tests([
        test_mechanisms_offered, test_scram_sha1, test_scram_sha256, test_scram_sha256_over_tls12,
        test_scram_sha256_plus_tls_exporter, test_scram_plus_wrong_binding_refused,
        test_scram_downgrade_detected, test_plain_over_tls, test_plain_with_own_authzid,
        test_authzid_of_another_user_refused, test_plain_not_offered_before_tls,
        test_unicode_password, test_plain_unicode_password, test_wrong_password, test_unknown_user, test_retry_after_failure,
        test_incorrect_encoding, test_malformed_request, test_invalid_mechanism, test_abort,
        test_auth_twice_refused, test_throttle_per_ip, test_throttle_per_account,
    ], srv)
