#!/usr/bin/python3
"""86-labels-upload: security labels on XEP-0363 uploads (issue 5, HTTP
path). A slot request carrying an XEP-0258 <securitylabel/> makes a
labelled file; the GET URL then serves it only to a requester who shows a
download token (urn:aldis:upload:auth:0, Authorization: Bearer) of a user
cleared for the label: no token or a bad one is 401 with a Bearer
challenge, a token of someone not cleared (classification or
releasability) is 403, and no refusal says anything about the file. An
uploader not cleared for the label gets no slot; a slot request with two
labels or a malformed one is refused; unlabelled files stay plain
capability URLs."""

import os
import secrets
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, connect, disconnect, run_tests  # noqa: E402
from labels_util import catalog, pick, user, xml_string  # noqa: E402
from roster_peer import Peer, error_condition, show  # noqa: E402
from upload_util import http, put, request_xml, service, slot  # noqa: E402

NS_AUTH = "urn:aldis:upload:auth:0"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"

srv = Server()


async def login(bare, pw):
    p = await Peer.login(srv, bare, pw)
    p.bare = bare
    return p


async def token(p):
    r = await p.iq("<token xmlns='%s'/>" % NS_AUTH, to=service(srv))
    t = r.find("{%s}token" % NS_AUTH)
    if r.get("type") != "result" or t is None or not (t.text or "").startswith("1.") \
            or not t.get("expires"):
        raise TestFailure("no download token: %s" % show(r))
    return t.text


async def labels(bare, pw, target):
    """Catalog labels offered to `bare` for `target`: {marking: xml}."""
    c = await connect(srv, bare + "/cat", pw)
    items = await catalog(c, srv.domain, target)
    await disconnect(c)
    return items


def labelled_request(name, size, label_xml):
    """A slot request with the label inside <request/> (an IQ get carries
    exactly one child, RFC 6120 §8.2.3)."""
    return request_xml(name, size, "text/plain").replace("/>", ">%s</request>" % label_xml, 1)


async def labelled_upload(p, label_xml, data, name="report.txt"):
    """Slot with the label, PUT the data; returns the GET URL."""
    r = await p.iq(labelled_request(name, len(data), label_xml), to=service(srv))
    put_url, get_url = slot(r)
    status, _, body = put(put_url, data, "text/plain")
    if status != 201:
        raise TestFailure("PUT: %d %r" % (status, body[:200]))
    return get_url


def get(url, tok=None):
    return http(url, headers={"Authorization": "Bearer " + tok} if tok else None)


def expect(got, want, what, secret=None):
    status, headers, body = got
    if status != want:
        raise TestFailure("%s: HTTP %d expected, got %d %r" % (what, want, status, body[:200]))
    if want in (401, 403) and secret and secret.encode() in body:
        raise TestFailure("%s: the refusal carries the file's content" % what)
    return headers, body


async def test_labelled_file_served_to_cleared_only(srv):
    a, apw = user(srv, "alice", "SECRET", ["Releasable To=GBR"])
    b, bpw = user(srv, "bob", "SECRET", ["Releasable To=GBR"])
    c, cpw = user(srv, "carol")  # UNCLASSIFIED
    f, fpw = user(srv, "frank", "TOP SECRET", ["Releasable To=FRA"])  # wrong releasability
    items = await labels(a, apw, a)
    secret_gbr = [xml_string(sl) for _, m, sl in items if "SECRET" in m and "GBR" in m
                  and "TOP" not in m]
    if not secret_gbr:
        raise TestFailure("no SECRET REL GBR label in the catalog: %s" % [m for _, m, _ in items])
    alice, bob, carol, frank = [await login(x, y) for x, y in
                                ((a, apw), (b, bpw), (c, cpw), (f, fpw))]
    content = "s3cret-" + secrets.token_hex(8)
    url = await labelled_upload(alice, secret_gbr[0], content.encode())

    headers, _ = expect(get(url), 401, "anonymous GET", content)
    if not headers.get("www-authenticate", "").lower().startswith("bearer"):
        raise TestFailure("401 without a Bearer challenge: %s" % headers)
    expect(get(url, "1.99999999999.%s.%s" % ("0" * 64, b)), 401, "forged token", content)
    expect(http(url, "HEAD"), 401, "anonymous HEAD")
    expect(get(url, await token(carol)), 403, "UNCLASSIFIED user", content)
    expect(get(url, await token(frank)), 403, "TOP SECRET REL FRA user", content)
    headers, body = expect(get(url, await token(bob)), 200, "cleared user")
    if body != content.encode():
        raise TestFailure("cleared user got other bytes: %r" % body[:100])
    if "no-store" not in headers.get("cache-control", ""):
        raise TestFailure("labelled file cacheable: %s" % headers.get("cache-control"))
    expect(get(url, await token(alice)), 200, "the uploader")


async def test_unlabelled_file_stays_a_capability(srv):
    a, apw = user(srv, "ulla")
    alice = await login(a, apw)
    data = b"plain-" + secrets.token_hex(4).encode()
    r = await alice.iq(request_xml("plain.txt", len(data), "text/plain"), to=service(srv))
    put_url, get_url = slot(r)
    if put(put_url, data, "text/plain")[0] != 201:
        raise TestFailure("PUT of an unlabelled file failed")
    _, body = expect(get(get_url), 200, "anonymous GET of an unlabelled file")
    if body != data:
        raise TestFailure("unlabelled file: other bytes")
    # a bad token does not lock anyone out of an unlabelled file
    expect(get(get_url, "garbage"), 200, "unlabelled file with a bad token")


async def test_uploader_must_be_cleared(srv):
    a, apw = user(srv, "top", "TOP SECRET")
    c, cpw = user(srv, "low")
    items = await labels(a, apw, a)
    top = pick(items, "TOP SECRET")
    low = await login(c, cpw)
    r = await low.iq(labelled_request("x.txt", 3, top), to=service(srv))
    if r.get("type") != "error":
        raise TestFailure("an UNCLASSIFIED user got a TOP SECRET slot: %s" % show(r))
    # two labels, and a label of no known policy
    hi = await login(a, apw)
    r = await hi.iq(labelled_request("x.txt", 3, top + top), to=service(srv))
    if r.get("type") != "error" or error_condition(r) != "bad-request":
        raise TestFailure("two labels: want bad-request, got %s" % show(r))
    junk = ("<securitylabel xmlns='urn:xmpp:sec-label:0'><label>"
            "<esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>bm90IERFUg==</esssecuritylabel>"
            "</label></securitylabel>")
    r = await hi.iq(labelled_request("x.txt", 3, junk), to=service(srv))
    if r.get("type") != "error":
        raise TestFailure("a malformed label got a slot: %s" % show(r))


async def test_disco_and_token_rules(srv):
    a, apw = user(srv, "dora")
    p = await login(a, apw)
    r = await p.iq("<query xmlns='%s'/>" % NS_DISCO_INFO, to=service(srv))
    feats = [f.get("var") for f in r.iter("{%s}feature" % NS_DISCO_INFO)]
    if NS_AUTH not in feats:
        raise TestFailure("upload service does not advertise %s: %s" % (NS_AUTH, feats))
    r = await p.iq("<token xmlns='%s'/>" % NS_AUTH, to=service(srv), type="set")
    if r.get("type") != "error":
        raise TestFailure("token by IQ set: want an error, got %s" % show(r))
    t = await token(p)
    if not t.endswith("." + a):
        raise TestFailure("token does not name its holder: %s" % t)


if __name__ == "__main__":
    run_tests([test_labelled_file_served_to_cleared_only, test_unlabelled_file_stays_a_capability,
               test_uploader_must_be_cleared, test_disco_and_token_rules], srv)
