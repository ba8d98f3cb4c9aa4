#!/usr/bin/python3
"""03-starttls: TLS on client connections.

STARTTLS is offered and mandatory (RFC 6120 §5.3.1, §5.4.2); SASL is not
possible before it; direct TLS works on the c2s_tls port (XEP-0368);
protocol versions below TLS 1.2 are refused (RFC 7525 §3.1.1, tls.min_version);
SNI selects the host's certificate (RFC 6066 §3)."""

import os
import re
import socket
import ssl
import subprocess
import threading
import warnings

from harness import NS_SASL, NS_TLS, RawClient, Server, TestFailure, run_tests

warnings.filterwarnings("ignore", category=DeprecationWarning)  # TLS 1.1 on purpose

srv = Server()
SECOND = "second.test"


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def tls11_context(server=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    if not server:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


def host_cert(srv):
    h = srv.config["hosts"][0]
    return os.path.join(srv.dir, h["certificate"]), os.path.join(srv.dir, h["key"])


def assert_client_speaks_tls11(srv):
    """The refusal tests below prove nothing if our own client cannot do
    TLS 1.1: check it against a local Python TLS 1.1 server first."""
    ctx = tls11_context(server=True)
    ctx.load_cert_chain(*host_cert(srv))
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    result = {}

    def serve():
        c, _ = ls.accept()
        try:
            s = ctx.wrap_socket(c, server_side=True)
            s.recv(1)
        except (OSError, ssl.SSLError) as e:
            result["err"] = e
        finally:
            c.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        with socket.create_connection(ls.getsockname(), timeout=5) as raw:
            with tls11_context().wrap_socket(raw, server_hostname="localhost") as s:
                check(s.version() == "TLSv1.1", "self-check negotiated %s" % s.version())
    except ssl.SSLError as e:
        raise TestFailure("this Python/OpenSSL cannot speak TLS 1.1 (%s): the test would be vacuous" % e)
    finally:
        ls.close()
        t.join(2)


async def test_starttls_offered_and_required(srv):
    r = RawClient(srv)
    feats = r.open()
    check(re.search(r"<starttls xmlns=['\"]%s['\"]\s*>\s*<required\s*/>" % re.escape(NS_TLS), feats),
          "STARTTLS not offered as required: %s" % feats)
    # §6.4.1 + c2s.require_encryption: no mechanism may be usable before TLS.
    check("<mechanism>" not in feats, "SASL mechanisms offered before TLS: %s" % feats)
    after = r.starttls()
    check(r.sock.version() in ("TLSv1.2", "TLSv1.3"), "negotiated %s" % r.sock.version())
    # §5.4.3.3: STARTTLS is not offered again on the encrypted stream.
    check("<starttls" not in after, "STARTTLS offered again after TLS: %s" % after)
    check(re.search(r"<mechanisms xmlns=['\"]%s['\"]" % re.escape(NS_SASL), after),
          "no SASL mechanisms after TLS: %s" % after)


async def test_auth_before_tls_refused(srv):
    # Valid credentials, sent in the clear: must not succeed.
    jid, pw = srv.new_user()
    r = RawClient(srv)
    r.open()
    import base64
    blob = base64.b64encode(("\0%s\0%s" % (jid.split("@")[0], pw)).encode()).decode()
    r.send("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" % (NS_SASL, blob))
    m = r.expect(r"<(success|failure)\b[^>]*>.*?(?:</\1>|/>)|<stream:error>.*?</stream:error>")
    text = m.group(0)
    check(not text.startswith("<success"), "PLAIN accepted before TLS: %s" % text)
    if text.startswith("<failure"):
        # RFC 6120 §6.5.4 encryption-required (or not-authorized, invalid-mechanism)
        check(re.search(r"<(encryption-required|invalid-mechanism|not-authorized)\s*/>", text),
              "unexpected SASL failure before TLS: %s" % text)


async def test_starttls_twice_refused(srv):
    # §5.4.3.3: a second STARTTLS on a TLS stream is an error.
    r = RawClient(srv)
    r.open()
    r.starttls()
    r.send("<starttls xmlns='%s'/>" % NS_TLS)
    m = r.expect(r"<(proceed|failure)\b[^>]*>|<stream:error>")
    check(not m.group(0).startswith("<proceed"), "server proceeded to TLS inside TLS")


async def test_tls_garbage_closes(srv):
    # Not TLS after <proceed/>: the server drops the connection.
    r = RawClient(srv)
    r.open()
    r.send("<starttls xmlns='%s'/>" % NS_TLS)
    r.expect(r"<proceed\b")
    r.send(b"this is not a TLS ClientHello\r\n" * 4)
    check(r.closed(), "connection stays open after a failed TLS handshake")


async def test_direct_tls(srv):
    jid, pw = srv.new_user()
    r = RawClient(srv)
    feats = r.direct_tls()
    check(r.sock.version() in ("TLSv1.2", "TLSv1.3"), "negotiated %s" % r.sock.version())
    check(r.sock.selected_alpn_protocol() in (None, "xmpp-client"),
          "ALPN %r" % r.sock.selected_alpn_protocol())
    check("<starttls" not in feats, "STARTTLS offered on a direct TLS stream: %s" % feats)
    check("<mechanism>" in feats, "no SASL mechanisms on direct TLS: %s" % feats)
    r.auth(jid, pw)
    check(r.bind().startswith(jid + "/"), "bind over direct TLS failed")


async def test_direct_tls_without_alpn(srv):
    jid, pw = srv.new_user()
    r = RawClient(srv)
    r.direct_tls(alpn=None)
    r.auth(jid, pw)
    r.bind()


async def test_plaintext_on_direct_tls_port(srv):
    # An XMPP header in the clear on the TLS port is not a TLS handshake.
    r = RawClient(srv, port=srv.c2s_tls_port)
    r.send(r.header_xml())
    check(r.closed(), "direct TLS port accepted a plaintext stream")
    check("<stream:features" not in r.received, "features sent in the clear on the TLS port")


async def test_tls12_and_tls13_accepted(srv):
    for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        r = RawClient(srv)
        r.open()
        r.starttls(min_version=v, max_version=v)
        check(r.sock.version() == v.name.replace("v1_", "v1."), "asked %s, got %s" % (v.name, r.sock.version()))
        r.close()


def _tls11_refused(srv, attempt):
    try:
        attempt()
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as e:
        return str(e)
    except TestFailure as e:
        if "connection closed" in str(e):
            return str(e)
        raise
    raise TestFailure("a TLS 1.1 client completed the handshake")


async def test_tls11_refused_starttls(srv):
    assert_client_speaks_tls11(srv)
    r = RawClient(srv)
    r.open()

    def attempt():
        r.send("<starttls xmlns='%s'/>" % NS_TLS)
        r.expect(r"<proceed\b")
        ctx = tls11_context()
        r.sock.settimeout(5)
        r.sock = ctx.wrap_socket(r.sock, server_hostname=srv.domain)
    _tls11_refused(srv, attempt)


async def test_tls11_refused_direct(srv):
    assert_client_speaks_tls11(srv)
    raw = socket.create_connection(("127.0.0.1", srv.c2s_tls_port), timeout=5)

    def attempt():
        tls11_context().wrap_socket(raw, server_hostname=srv.domain)
    try:
        _tls11_refused(srv, attempt)
    finally:
        raw.close()


async def test_sni_selects_host_certificate(srv):
    # A second host with its own certificate; each SNI name gets its own.
    crt = os.path.join(srv.dir, SECOND + ".crt")
    key = os.path.join(srv.dir, SECOND + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", crt, "-days", "2", "-subj", "/CN=" + SECOND,
                    "-addext", "subjectAltName=DNS:" + SECOND],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    second = {"domain": SECOND, "certificate": SECOND + ".crt", "key": SECOND + ".key"}
    if "modules" in srv.config["hosts"][0]:
        second["modules"] = srv.config["hosts"][0]["modules"]
    srv.overrides["hosts.1"] = second
    srv.restart()
    for name, other in ((srv.domain, SECOND), (SECOND, srv.domain)):
        r = RawClient(srv)
        r.domain = name
        r.open()
        r.starttls(server_hostname=name)
        der = r.sock.getpeercert(binary_form=True)  # names appear as bytes in the DER
        check(name.encode() in der and other.encode() not in der,
              "SNI %s: the server presented a certificate for another name" % name)
        check(r.header.get("from") == name, "SNI %s: stream from=%r" % (name, r.header.get("from")))
        r.close()
        d = RawClient(srv)
        d.domain = name
        d.direct_tls(server_hostname=name)
        der = d.sock.getpeercert(binary_form=True)
        check(name.encode() in der, "direct TLS with SNI %s: wrong certificate" % name)
        d.close()


if __name__ == "__main__":
    run_tests([
        test_starttls_offered_and_required, test_auth_before_tls_refused,
        test_starttls_twice_refused, test_tls_garbage_closes, test_direct_tls,
        test_direct_tls_without_alpn, test_plaintext_on_direct_tls_port,
        test_tls12_and_tls13_accepted, test_tls11_refused_starttls, test_tls11_refused_direct,
        test_sni_selects_host_certificate,  # last: adds a host and restarts
    ], srv)
