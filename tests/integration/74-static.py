#!/usr/bin/python3
"""74-static: the web client's files at /: MIME types, caching (no-cache
for index.html, immutable for hashed assets), a strict
Content-Security-Policy, no path traversal, hidden files or symlinks out of
the directory; a placeholder page when the directory is missing."""

import os
import shutil
import socket
import tempfile

from harness import Server, TestFailure, run_tests
from http_util import connect_http, read_response, request, wait_http

root = tempfile.mkdtemp(prefix="aldis-static-")
site = os.path.join(root, "dist")
os.makedirs(os.path.join(site, "assets"))
with open(os.path.join(site, "index.html"), "w") as f:
    f.write("<!doctype html><title>client</title>")
with open(os.path.join(site, "assets", "app.3f9a1c2e77.js"), "w") as f:
    f.write("console.log('x');" * 1000)
with open(os.path.join(site, "style.css"), "w") as f:
    f.write("body{}")
with open(os.path.join(site, ".env"), "w") as f:
    f.write("SECRET=1")
with open(os.path.join(root, "outside.txt"), "w") as f:
    f.write("outside")
os.symlink(os.path.join(root, "outside.txt"), os.path.join(site, "link.txt"))

srv = Server(config={"http.static_dir": site})


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def test_index_and_headers(srv):
    wait_http(srv)
    status, h, body = request(srv, "GET", "/")
    check(status == 200 and b"<title>client</title>" in body, "index: %s %r" % (status, body[:80]))
    check(h.get("content-type", "").startswith("text/html"), "type %s" % h)
    check(h.get("cache-control") == "no-cache", "index cache-control %s" % h.get("cache-control"))
    csp = h.get("content-security-policy", "")
    check("default-src 'self'" in csp and "object-src 'none'" in csp and
          "frame-ancestors 'none'" in csp, "csp %r" % csp)
    check(h.get("x-content-type-options") == "nosniff", "nosniff %s" % h)


def test_hashed_asset_immutable(srv):
    status, h, body = request(srv, "GET", "/assets/app.3f9a1c2e77.js")
    check(status == 200 and len(body) == 17000, "asset %s %d" % (status, len(body)))
    check(h.get("content-type", "").startswith("text/javascript"), "type %s" % h)
    check("immutable" in h.get("cache-control", ""), "cache %s" % h.get("cache-control"))
    status, h, _ = request(srv, "GET", "/style.css")
    check(status == 200 and h.get("content-type", "").startswith("text/css"), "css %s" % h)
    check(h.get("cache-control") == "no-cache", "unhashed css cached: %s" % h)
    status, h, body = request(srv, "HEAD", "/style.css")
    check(status == 200 and body == b"", "HEAD %s" % status)


def test_no_traversal(srv):
    for path in ("/../outside.txt", "/%2e%2e/outside.txt", "/assets/../../outside.txt",
                 "/.env", "/link.txt", "/assets/%2e%2e/%2e%2e/outside.txt", "/nothing-here",
                 "/..%2foutside.txt"):
        status, _, body = request(srv, "GET", path)
        check(status in (400, 403, 404), "%s answered %s" % (path, status))
        check(b"outside" not in body and b"SECRET" not in body, "%s leaked %r" % (path, body))
    status, h, _ = request(srv, "GET", "/assets")
    check(status == 301 and h.get("location") == "/assets/", "dir redirect %s %s" % (status, h))
    status, _, _ = request(srv, "POST", "/index.html", body=b"x=1")
    check(status == 405, "POST %s" % status)


def test_keep_alive(srv):
    s = connect_http(srv)
    try:
        for _ in range(3):
            status, _, body = request(srv, "GET", "/style.css", sock=s)
            check(status == 200 and body == b"body{}", "keep-alive request %s" % status)
    finally:
        s.close()


def test_placeholder_without_client():
    other = Server(config={"http.static_dir": os.path.join(root, "missing")})
    other.start()
    try:
        wait_http(other)
        status, h, body = request(other, "GET", "/")
        check(status == 200 and b"web client is not installed" in body, "placeholder %s" % status)
        status, _, _ = request(other, "GET", "/app.js")
        check(status == 404, "missing file %s" % status)
    finally:
        other.stop()
        other.cleanup()


if __name__ == "__main__":
    try:
        run_tests([test_index_and_headers, test_hashed_asset_immutable, test_no_traversal,
                   test_keep_alive, test_placeholder_without_client], srv)
    finally:
        shutil.rmtree(root, ignore_errors=True)
