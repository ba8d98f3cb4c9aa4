#!/usr/bin/python3
"""78-upload-disco: XEP-0363 without HTTP: the service in the host's
disco#items, its store/file identity, feature and max-file-size form
(§3), slot requests by slixmpp's xep_0363 and by a raw client (§4), signed
PUT URLs, sanitised names, and the refusals: file too large with the
limit (§5), quota reached with <retry/> (§5), not-acceptable names,
malformed requests, anything that is not a slot request, and users of
another host (not-allowed)."""

import asyncio
import os
import re
import socket
import ssl
import subprocess
import sys
import urllib.parse
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import RawClient, Server, TestFailure, connect, run_tests, send_iq  # noqa: E402
from roster_peer import Peer, show  # noqa: E402
from upload_util import (NS_DATA, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_UPLOAD, U,  # noqa: E402
                         expect_error, new_slot, request, service, slot, uploader)

MAX = 50000
QUOTA = 120000


async def test_service_listed_and_described(srv):
    p = await uploader(srv)
    items = await p.iq("<query xmlns='%s'/>" % NS_DISCO_ITEMS, to=srv.domain)
    jids = [i.get("jid") for i in items.find("{%s}query" % NS_DISCO_ITEMS)]
    if service(srv) not in jids:
        raise TestFailure("§3: service not in the host's items: %s" % show(items))
    info = await p.iq("<query xmlns='%s'/>" % NS_DISCO_INFO, to=service(srv))
    q = info.find("{%s}query" % NS_DISCO_INFO)
    idents = [(i.get("category"), i.get("type")) for i in q.findall("{%s}identity" % NS_DISCO_INFO)]
    if ("store", "file") not in idents:
        raise TestFailure("§3 identity store/file missing: %s" % show(info))
    if NS_UPLOAD not in {f.get("var") for f in q.findall("{%s}feature" % NS_DISCO_INFO)}:
        raise TestFailure("§3 feature missing: %s" % show(info))
    fields = {}
    for x in q.findall("{%s}x" % NS_DATA):
        for f in x.findall("{%s}field" % NS_DATA):
            fields[f.get("var")] = [v.text for v in f.findall("{%s}value" % NS_DATA)]
    if fields.get("FORM_TYPE") != [NS_UPLOAD] or fields.get("max-file-size") != [str(MAX)]:
        raise TestFailure("§3 XEP-0128 form with max-file-size %d expected: %s" % (MAX, show(info)))


async def test_slixmpp_discovers_and_gets_a_slot(srv):
    # slixmpp's own xep_0363 plugin needs aiohttp; its discovery is
    # xep_0030's, and the request goes through the same client.
    jid, pw = srv.new_user("slix")
    c = await connect(srv, jid, pw, plugins=["xep_0030"])
    items = await c["xep_0030"].get_items(jid=srv.domain)
    found = None
    for item_jid, _, _ in items["disco_items"]["items"]:
        info = await c["xep_0030"].get_info(jid=item_jid)
        if (("store", "file") in {(i[0], i[1]) for i in info["disco_info"]["identities"]}
                and NS_UPLOAD in info["disco_info"]["features"]):
            found = str(item_jid)
    if found != service(srv):
        raise TestFailure("slixmpp did not find the upload service (got %s)" % found)
    reply = await send_iq(c, "<request xmlns='%s' filename='report.pdf' size='1234' "
                             "content-type='application/pdf'/>" % NS_UPLOAD, to=found)
    if reply["type"] != "result":
        raise TestFailure("slot request failed: %s" % reply)
    put_url, get_url = slot(ET.fromstring(str(reply)))
    u = urllib.parse.urlsplit(put_url)
    if urllib.parse.urlsplit(get_url).path != u.path or not u.path.endswith("/report.pdf"):
        raise TestFailure("PUT and GET should name the same file: %s %s" % (put_url, get_url))
    if not re.fullmatch(r"/upload/[0-9a-f]{32}/report\.pdf", u.path):
        raise TestFailure("unexpected upload path %s" % u.path)
    q = dict(urllib.parse.parse_qsl(u.query))
    if not re.fullmatch(r"[0-9a-f]{64}", q.get("v", "")) or q.get("s") != "1234":
        raise TestFailure("PUT URL not signed as expected: %s" % put_url)
    if not q.get("e", "").isdigit():
        raise TestFailure("PUT URL without expiry: %s" % put_url)


async def test_slots_are_unique_and_names_sanitised(srv):
    p = await uploader(srv)
    a_put, a_get = await new_slot(p, srv, "same.txt", 10, "text/plain")
    b_put, b_get = await new_slot(p, srv, "same.txt", 10, "text/plain")
    if a_get == b_get or a_put == b_put:
        raise TestFailure("two slots share a URL: %s" % a_get)
    _, get = await new_slot(p, srv, "my photo%#?.jpg", 10, "image/jpeg")
    name = urllib.parse.unquote(urllib.parse.urlsplit(get).path.split("/")[-1])
    if name != "my photo___.jpg":
        raise TestFailure("name not sanitised as documented: %r (%s)" % (name, get))
    _, get = await new_slot(p, srv, ".hidden", 10)
    if not get.endswith("/_hidden"):
        raise TestFailure("a leading dot should become '_': %s" % get)
    _, get = await new_slot(p, srv, "caf\u00e9.txt", 10)
    if not get.endswith("/caf%C3%A9.txt"):
        raise TestFailure("UTF-8 names are percent-encoded: %s" % get)


async def test_file_too_large(srv):
    p = await uploader(srv)
    reply = await request(p, srv, "big.bin", MAX + 1, "application/octet-stream")
    child = expect_error(reply, "modify", "not-acceptable")
    if child is None or child.tag != U("file-too-large"):
        raise TestFailure("§5: <file-too-large/> expected: %s" % show(reply))
    m = child.find(U("max-file-size"))
    if m is None or m.text != str(MAX):
        raise TestFailure("§5: max-file-size %d expected: %s" % (MAX, show(reply)))
    slot(await request(p, srv, "edge.bin", MAX))  # exactly the limit is fine


async def test_quota_with_retry(srv):
    p = await uploader(srv)
    for i in range(2):
        slot(await request(p, srv, "part%d.bin" % i, MAX))
    reply = await request(p, srv, "more.bin", QUOTA - 2 * MAX + 1)
    child = expect_error(reply, "wait", "resource-constraint")
    if child is None or child.tag != U("retry") or not re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", child.get("stamp") or ""):
        raise TestFailure("§5: <retry stamp=.../> expected: %s" % show(reply))
    slot(await request(p, srv, "fits.bin", QUOTA - 2 * MAX))  # exactly the rest fits
    # another user has a quota of their own
    q = await uploader(srv)
    slot(await request(q, srv, "other.bin", MAX))


async def test_bad_names_refused(srv):
    p = await uploader(srv)
    for name in ("../etc/passwd", "a/b.txt", "back\\slash", "..", ".", "tab\there",
                 "x" * 256, "bidi\u202egpj.exe"):
        reply = await request(p, srv, name, 10)
        if name.startswith("bidi"):
            put, get = slot(reply)  # made harmless, not refused
            if "%E2%80%AE" in get:
                raise TestFailure("a bidi override survived: %s" % get)
            continue
        expect_error(reply, "modify", "not-acceptable")


async def test_malformed_requests(srv):
    p = await uploader(srv)
    for fname, size, ctype in ((None, 10, None), ("", 10, None), ("a.txt", None, None),
                               ("a.txt", "-1", None), ("a.txt", "1e3", None),
                               ("a.txt", "99999999999999999999999", None),
                               ("a.txt", 10, "text/plain\r\nX-Evil: 1"), ("a.txt", 10, "nonsense"),
                               ("a.txt", 10, "text/plain;;")):
        reply = await request(p, srv, fname, size, ctype)
        expect_error(reply, "modify", "bad-request")
    reply = await request(p, srv, "a.txt", 10, type="set")
    expect_error(reply, "modify", "bad-request")
    # a content type with parameters is fine, and comes back lowercased
    slot(await request(p, srv, "a.txt", 10, "Text/Plain; Charset=UTF-8"))


async def test_other_stanzas(srv):
    p = await uploader(srv)
    reply = await p.iq("<query xmlns='jabber:iq:version'/>", to=service(srv))
    expect_error(reply, "cancel", "service-unavailable")
    reply = await p.iq(request_xml_ok(), to="someone@" + service(srv))
    expect_error(reply, "cancel", "service-unavailable")
    reply = await p.iq("<ping xmlns='urn:xmpp:ping'/>", to=service(srv))
    if reply.get("type") != "result":
        raise TestFailure("ping: %s" % show(reply))


async def test_only_the_hosts_own_users(srv):
    # A second host with its own upload service: each serves its own users.
    second = "second.test"
    crt = os.path.join(srv.dir, second + ".crt")
    key = os.path.join(srv.dir, second + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", crt, "-days", "2", "-subj", "/CN=" + second,
                    "-addext", "subjectAltName=DNS:" + second],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    host = {"domain": second, "certificate": second + ".crt", "key": second + ".key"}
    if "modules" in srv.config["hosts"][0]:
        host["modules"] = srv.config["hosts"][0]["modules"]
    srv.overrides["hosts.1"] = host
    srv.restart()
    a = await uploader(srv)
    expect_error(await a.iq(request_xml_ok(), to="upload." + second), "cancel", "not-allowed")
    slot(await a.iq(request_xml_ok(), to=service(srv)))
    bare = srv.add_user("carol@" + second, "pw-second-1234")
    raw = RawClient(srv)
    raw.domain = second
    await asyncio.get_running_loop().run_in_executor(
        None, lambda: raw.login("carol", "pw-second-1234", "r1"))
    c = Peer(raw, bare, "r1")
    expect_error(await c.iq(request_xml_ok(), to=service(srv)), "cancel", "not-allowed")
    put_url, _ = slot(await c.iq(request_xml_ok(), to="upload." + second))
    # the https listener presents each host's certificate by SNI, the
    # upload service's name (a subdomain) included (RFC 6066 §3)
    host = urllib.parse.urlsplit(put_url).hostname
    if host != "upload." + second:
        raise TestFailure("second host's slot URL names %s" % host)
    for name, want, other in ((host, second, srv.domain), ("upload." + srv.domain, srv.domain, second),
                              (srv.domain, srv.domain, second)):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", srv.https_port), timeout=10) as sock:
            with ctx.wrap_socket(sock, server_hostname=name) as tls:
                der = tls.getpeercert(binary_form=True)
        if want.encode() not in der or other.encode() in der:
            raise TestFailure("https SNI %s: the certificate of another host was presented" % name)


def request_xml_ok():
    return "<request xmlns='%s' filename='a.txt' size='1'/>" % NS_UPLOAD


if __name__ == "__main__":
    srv = Server(config={"modules.upload.max_file_size": MAX,
                         "modules.upload.quota": QUOTA})
    run_tests([test_service_listed_and_described, test_slixmpp_discovers_and_gets_a_slot,
               test_slots_are_unique_and_names_sanitised, test_file_too_large,
               test_quota_with_retry, test_bad_names_refused, test_malformed_requests,
               test_other_stanzas, test_only_the_hosts_own_users], srv)
