"""upload_util.py - helpers for the XEP-0363 tests (77-79): slot requests
from a raw client (roster_peer.Peer), reading slots and upload errors, and
plain HTTP(S) requests to the URLs a slot gives (http.client, loopback
only: the URL's host is sent as Host but the connection goes to 127.0.0.1).

    p = await uploader(srv)
    reply = await request(p, srv, "photo.jpg", 1234, "image/jpeg")
    put_url, get_url = slot(reply)
    status, _, _ = http(put_url, "PUT", body, {"Content-Type": "image/jpeg"})
"""

import http.client as httpclient
import os
import secrets
import ssl
import sys
import time
import urllib.parse
from xml.sax.saxutils import quoteattr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import TestFailure, scaled  # noqa: E402
from roster_peer import C, Peer, error_condition, show, users  # noqa: E402

NS_UPLOAD = "urn:xmpp:http:upload:0"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
NS_DATA = "jabber:x:data"


def U(name):
    return "{%s}%s" % (NS_UPLOAD, name)


def service(srv):
    return "upload." + srv.domain


async def uploader(srv, prefix="up"):
    """A fresh user logged in over a raw client; .bare and .password set."""
    (bare, pw), = await users(srv, 1, prefix)
    p = await Peer.login(srv, bare, pw)
    p.bare = bare
    p.password = pw
    return p


def request_xml(filename, size, content_type=None):
    attrs = ""
    if filename is not None:
        attrs += " filename=%s" % quoteattr(filename)
    if size is not None:
        attrs += " size=%s" % quoteattr(str(size))
    if content_type is not None:
        attrs += " content-type=%s" % quoteattr(content_type)
    return "<request xmlns='%s'%s/>" % (NS_UPLOAD, attrs)


async def request(p, srv, filename, size, content_type=None, type="get"):
    """Ask the service for a slot; the reply element (result or error)."""
    return await p.iq(request_xml(filename, size, content_type), type=type, to=service(srv))


def slot(reply):
    """(put_url, get_url) of a slot result; fails on anything else."""
    s = reply.find(U("slot"))
    if reply.get("type") != "result" or s is None:
        raise TestFailure("no slot: %s" % show(reply))
    put, get = s.find(U("put")), s.find(U("get"))
    if put is None or get is None or not put.get("url") or not get.get("url"):
        raise TestFailure("slot without put/get URLs: %s" % show(reply))
    return put.get("url"), get.get("url")


async def new_slot(p, srv, filename, size, content_type=None):
    return slot(await request(p, srv, filename, size, content_type))


def upload_error(reply):
    """(error type, condition, XEP-0363 child element or None)."""
    err = reply.find(C("error"))
    if reply.get("type") != "error" or err is None:
        raise TestFailure("expected an error: %s" % show(reply))
    child = None
    for el in err:
        if el.tag.startswith("{%s}" % NS_UPLOAD):
            child = el
    return err.get("type"), error_condition(reply), child


def expect_error(reply, type, condition):
    got = upload_error(reply)
    if got[0] != type or got[1] != condition:
        raise TestFailure("expected %s/%s, got %s/%s: %s" % (type, condition, got[0], got[1],
                                                               show(reply)))
    return got[2]


def _connection(url, timeout):
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # the instance's self-signed certificate
        conn = httpclient.HTTPSConnection("127.0.0.1", u.port, timeout=timeout, context=ctx)
    elif u.scheme == "http":
        conn = httpclient.HTTPConnection("127.0.0.1", u.port, timeout=timeout)
    else:
        raise TestFailure("unexpected URL scheme: %s" % url)
    target = u.path + ("?" + u.query if u.query else "")
    return conn, u.netloc, target


def http(url, method="GET", body=None, headers=None):
    """One request; returns (status, {lowercased header: value}, body)."""
    conn, host, target = _connection(url, scaled(20))
    try:
        hdrs = {"Host": host}
        hdrs.update(headers or {})
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders()
        if body:
            view = memoryview(body)
            for i in range(0, len(view), 65536):
                try:
                    conn.send(view[i:i + 65536])
                except (BrokenPipeError, ConnectionResetError):
                    break  # the server answered early (e.g. 413) and closed
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def _refusal_put(url, data, headers):
    """A PUT the server should refuse from its headers: send them, give the
    server a moment to answer at once (then the body is never sent, so a
    server closing after its answer cannot lose it to a TCP reset), else
    send the body (HTTP lets a server read it first) and read the answer.
    Returns (status, {header: value}, body)."""
    conn, host, target = _connection(url, scaled(20))
    try:
        conn.connect()
        sock = conn.sock
        lines = ["PUT %s HTTP/1.1" % target, "Host: %s" % host, "Connection: close"]
        lines += ["%s: %s" % kv for kv in headers.items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        got = b""
        sock.settimeout(scaled(1))
        try:
            got = sock.recv(65536)
        except (TimeoutError, ssl.SSLWantReadError):
            pass
        sock.settimeout(scaled(20))
        if not got:
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass
        while b"\r\n\r\n" not in got:
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
        head, _, rest = got.partition(b"\r\n\r\n")
        head_lines = head.decode("latin-1").split("\r\n")
        parts = head_lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise TestFailure("PUT %s: no HTTP answer (%r)" % (url, got[:100]))
        hdrs = {}
        for line in head_lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        want = int(hdrs.get("content-length", "0") or 0)
        while len(rest) < want:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return int(parts[1]), hdrs, rest
    finally:
        conn.close()


def put(url, data, content_type=None, length=None, early=False):
    """PUT data; early=True when a refusal is expected from the headers
    alone (see _refusal_put)."""
    headers = {"Content-Length": str(len(data) if length is None else length)}
    if content_type:
        headers["Content-Type"] = content_type
    if early:
        return _refusal_put(url, data, headers)
    return http(url, "PUT", data, headers)


def with_query(url, **changes):
    """The URL with some query parameters replaced."""
    u = urllib.parse.urlsplit(url)
    q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
    q.update({k: str(v) for k, v in changes.items()})
    return urllib.parse.urlunsplit(u._replace(query=urllib.parse.urlencode(q)))


def slot_id(url):
    """The slot id of a PUT or GET URL (/upload/ID/NAME)."""
    parts = urllib.parse.urlsplit(url).path.split("/")
    return parts[2]


def random_bytes(n):
    return secrets.token_bytes(n)


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + scaled(timeout)
    while not pred():
        if time.monotonic() > deadline:
            raise TestFailure("%s: not within %.0f s" % (what, timeout))
        time.sleep(0.1)
