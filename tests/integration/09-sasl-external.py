#!/usr/bin/python3
"""09-sasl-external: SASL EXTERNAL with client certificates (XEP-0178,
RFC 6120 §6.3.4, §13.7.1.4 id-on-xmppAddr), and a clearance carried in
the certificate (RFC 5755 attribute in subjectDirectoryAttributes, made by
`aldisctl policy cert-extension`) becoming the user's clearance. The test
makes its own CA and client certificates with the openssl command (test
fixtures, never kept)."""

import atexit
import os
import re
import shutil
import subprocess
import tempfile

import harness
from harness import NS_SASL, RawClient, Server, TestFailure, run_tests

tmp = tempfile.mkdtemp(prefix="aldis-external-")
atexit.register(shutil.rmtree, tmp, True)


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, cwd=tmp, capture_output=True)


def make_ca(name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".crt", "-days", "2", "-subj", "/CN=" + name)


def make_client(name, ca, addrs, extra=""):
    ext = os.path.join(tmp, name + ".ext")
    with open(ext, "w") as f:
        san = ",".join("otherName:1.3.6.1.5.5.7.8.5;UTF8:%s" % a for a in addrs)
        f.write("subjectAltName=%s\nextendedKeyUsage=clientAuth\n%s" % (san, extra))
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
            "-CAcreateserial", "-out", name + ".crt", "-days", "2", "-extfile", ext)
    return os.path.join(tmp, name + ".crt"), os.path.join(tmp, name + ".key")


make_ca("trusted-ca")
make_ca("other-ca")
srv = Server(config={"c2s.client_ca": os.path.join(tmp, "trusted-ca.crt"),
                     "security.certificate_clearance": True})

_plain_context = harness._client_ssl_context
_client_cert = [None]


def _context_with_cert():
    ctx = _plain_context()
    if _client_cert[0]:
        ctx.load_cert_chain(*_client_cert[0])
    return ctx


harness._client_ssl_context = _context_with_cert


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def tls_client(srv, cert):
    _client_cert[0] = cert
    try:
        r = RawClient(srv)
        r.open()
        r.starttls()
    finally:
        _client_cert[0] = None
    return r


def external(r, authzid=""):
    import base64
    data = base64.b64encode(authzid.encode()).decode() if authzid else "="
    r.send("<auth xmlns='%s' mechanism='EXTERNAL'>%s</auth>" % (NS_SASL, data))
    m = r.expect(r"<(success|failure)\b.*?(/>|</\1>)")
    return m.group(1), m.group(0)


async def test_offered_only_with_a_trusted_certificate(srv):
    jid, _ = srv.new_user()
    r = tls_client(srv, None)
    check("EXTERNAL" not in r.features, "EXTERNAL offered without a client certificate")
    r.close()
    untrusted = make_client("untrusted", "other-ca", [jid])
    r = tls_client(srv, untrusted)
    check("EXTERNAL" not in r.features, "EXTERNAL offered for a certificate from an unknown CA")
    r.close()
    good = make_client("good1", "trusted-ca", [jid])
    r = tls_client(srv, good)
    check("<mechanism>EXTERNAL</mechanism>" in r.features, "EXTERNAL not offered: %s" % r.features)
    r.close()


async def test_login_with_the_certificate_identity(srv):
    jid, _ = srv.new_user()
    r = tls_client(srv, make_client("good2", "trusted-ca", [jid]))
    kind, text = external(r)
    check(kind == "success", "EXTERNAL failed: %s" % text)
    r.open()
    bound = r.bind("cert")
    check(bound.split("/")[0] == jid, "bound %s, expected %s" % (bound, jid))
    r.close()


async def test_authzid_named_in_the_certificate(srv):
    a, _ = srv.new_user()
    b, _ = srv.new_user()
    r = tls_client(srv, make_client("two", "trusted-ca", [a, b]))
    kind, text = external(r)
    check(kind == "failure" and "not-authorized" in text,
          "two identities and no authzid must fail: %s" % text)
    kind, text = external(r, b)
    check(kind == "success", "authzid %s from the certificate refused: %s" % (b, text))
    r.open()
    check(r.bind("x").split("/")[0] == b, "bound the wrong account")
    r.close()


async def test_authzid_not_in_the_certificate(srv):
    a, _ = srv.new_user()
    other, _ = srv.new_user()
    r = tls_client(srv, make_client("one", "trusted-ca", [a]))
    kind, text = external(r, other)
    check(kind == "failure" and "not-authorized" in text,
          "authzid outside the certificate accepted: %s" % text)
    r.close()


async def test_unknown_account(srv):
    r = tls_client(srv, make_client("ghost", "trusted-ca", ["ghost-user@" + srv.domain]))
    kind, text = external(r)
    check(kind == "failure" and "not-authorized" in text, "unknown account accepted: %s" % text)
    r.close()


def catalog_markings(r, target):
    r.send("<iq type='get' id='cat' to='%s'><catalog xmlns='urn:xmpp:sec-label:catalog:2' "
           "to='%s'/></iq>" % (srv.domain, target))
    m = r.expect(r"<iq\b[^>]*id='cat'.*?</iq>")
    return re.findall(r"<displaymarking[^>]*>([^<]*)</displaymarking>", m.group(0))


async def test_clearance_from_the_certificate(srv):
    jid, _ = srv.new_user()  # no stored clearance: UNCLASSIFIED only
    policy = os.path.join(srv.dir, "policy.xml")
    line = srv.ctl("policy", "cert-extension", policy, "--classification", "SECRET",
                   "--category", "Releasable To=GBR").stdout.strip()
    check(line.startswith("2.5.29.9=DER:"), "cert-extension printed %r" % line)
    r = tls_client(srv, make_client("cleared", "trusted-ca", [jid], line + "\n"))
    kind, text = external(r)
    check(kind == "success", "EXTERNAL failed: %s" % text)
    r.open()
    r.bind("cert")
    marks = catalog_markings(r, jid)
    check(any(m.startswith("SECRET") for m in marks),
          "the certificate's SECRET clearance does not apply: catalog %s" % marks)
    shown = srv.ctl("user", "clearance", jid, "--show").stdout
    check("SECRET" in shown and "GBR" in shown, "stored clearance: %r" % shown)
    r.close()
    # a certificate without the attribute leaves the stored clearance alone
    r = tls_client(srv, make_client("plain", "trusted-ca", [jid]))
    kind, text = external(r)
    check(kind == "success", "EXTERNAL failed: %s" % text)
    r.open()
    r.bind("plain")
    check(any(m.startswith("SECRET") for m in catalog_markings(r, jid)),
          "a certificate without a clearance changed the stored one")
    r.close()
    # one under another policy is refused: the stored clearance stays
    other = "2.5.29.9=DER:30:11:30:0F:06:03:55:04:37:31:08:30:06:06:04:2A:03:04:05\n"
    low, _ = srv.new_user()
    r = tls_client(srv, make_client("foreign", "trusted-ca", [low], other))
    kind, text = external(r)
    check(kind == "success", "EXTERNAL failed: %s" % text)
    r.open()
    r.bind("f")
    marks = catalog_markings(r, low)
    check(marks and all(m.startswith("UNCLASSIFIED") for m in marks),
          "a foreign-policy clearance raised the user's: %s" % marks)
    r.close()


run_tests([test_offered_only_with_a_trusted_certificate, test_login_with_the_certificate_identity,
           test_authzid_named_in_the_certificate, test_authzid_not_in_the_certificate,
           test_unknown_account, test_clearance_from_the_certificate], srv)
