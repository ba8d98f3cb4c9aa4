#!/usr/bin/python3
"""72-host-meta: XEP-0156 discovery over HTTP. /.well-known/host-meta (XRD)
and /.well-known/host-meta.json name the WebSocket and BOSH endpoints of
the listener and Host the client used; other methods are refused."""

import json
import xml.etree.ElementTree as ET

from harness import Server, TestFailure, run_tests
from http_util import request, wait_http

srv = Server()
XRD = "{http://docs.oasis-open.org/ns/xri/xrd-1.0}"


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def test_xrd(srv):
    wait_http(srv)
    status, h, body = request(srv, "GET", "/.well-known/host-meta")
    check(status == 200, "status %s" % status)
    check(h.get("content-type", "").startswith("application/xrd+xml"), "type %s" % h)
    check(h.get("access-control-allow-origin") == "*", "no CORS header: %s" % h)
    root = ET.fromstring(body)
    links = {l.get("rel"): l.get("href") for l in root.iter(XRD + "Link")}
    host = "%s:%d" % (srv.domain, srv.http_port)
    check(links.get("urn:xmpp:alt-connections:websocket") == "ws://%s/xmpp-websocket" % host,
          "links %s" % links)
    check(links.get("urn:xmpp:alt-connections:xbosh") == "http://%s/http-bind" % host,
          "links %s" % links)


def test_json_over_https(srv):
    status, h, body = request(srv, "GET", "/.well-known/host-meta.json", tls=True)
    check(status == 200, "status %s" % status)
    check(h.get("content-type", "").startswith("application/json"), "type %s" % h)
    links = {l["rel"]: l["href"] for l in json.loads(body)["links"]}
    host = "%s:%d" % (srv.domain, srv.https_port)
    check(links.get("urn:xmpp:alt-connections:websocket") == "wss://%s/xmpp-websocket" % host,
          "links %s" % links)
    check(links.get("urn:xmpp:alt-connections:xbosh") == "https://%s/http-bind" % host,
          "links %s" % links)


def test_host_header_checked(srv):
    status, _, body = request(srv, "GET", "/.well-known/host-meta",
                              headers={"Host": "evil'/><x y='"})
    check(status == 400, "a hostile Host was echoed: %s %r" % (status, body[:200]))
    status, _, _ = request(srv, "POST", "/.well-known/host-meta", body=b"x")
    check(status == 405, "POST answered %s" % status)
    status, h, body = request(srv, "HEAD", "/.well-known/host-meta.json")
    check(status == 200 and body == b"", "HEAD: %s %r" % (status, body))


if __name__ == "__main__":
    run_tests([test_xrd, test_json_over_https, test_host_header_checked], srv)
