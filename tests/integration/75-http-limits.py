#!/usr/bin/python3
"""75-http-limits: hostile HTTP input gets proper statuses and never hurts
the worker: oversized headers, oversized bodies, garbage request lines,
unknown methods, slow clients (timeout), too many connections from one
address; the server still serves XMPP and HTTP afterwards."""

import socket
import time

from harness import Server, TestFailure, run_tests, RawClient
from http_util import connect_http, read_response, request, wait_http

srv = Server(config={"http.max_header_size": 2048, "http.max_body_size": 4096,
                     "http.timeout": 2, "http.max_connections_per_ip": 8})


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def still_alive(srv):
    status, _, _ = request(srv, "GET", "/.well-known/host-meta")
    check(status == 200, "the HTTP server no longer answers (%s)" % status)


def test_oversized_headers(srv):
    wait_http(srv)
    s = connect_http(srv)
    s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n")
    try:
        status, _, _ = read_response(s)
    except (ConnectionResetError, BrokenPipeError):
        status = None
    check(status in (None, 400, 431), "oversized headers answered %s" % status)
    s.close()
    still_alive(srv)


def test_oversized_body(srv):
    status, _, _ = request(srv, "POST", "/http-bind", body=b"<body/>" + b" " * 10000,
                           headers={"Content-Type": "text/xml"})
    check(status == 413, "oversized body answered %s" % status)
    still_alive(srv)


def test_garbage(srv):
    for junk in (b"\x16\x03\x01\x02\x00garbage\r\n\r\n", b"HELLO\r\n\r\n",
                 b"GET\r\n\r\n", b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n",
                 b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                 b"\x00" * 100 + b"\r\n\r\n"):
        s = connect_http(srv)
        s.settimeout(5)
        try:
            s.sendall(junk)
            status, _, _ = read_response(s)
        except (ConnectionResetError, BrokenPipeError, socket.timeout, ValueError, IndexError):
            status = None
        finally:
            s.close()
        check(status is None or 400 <= status < 600, "%r answered %s" % (junk[:20], status))
    still_alive(srv)


def test_slow_client_timed_out(srv):
    s = connect_http(srv)
    s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")  # never finishes the headers
    s.settimeout(15)
    start = time.monotonic()
    try:
        while s.recv(4096):
            pass
    except (ConnectionResetError, socket.timeout):
        pass
    took = time.monotonic() - start
    s.close()
    check(took < 12, "a slow client was kept %.1f s" % took)


def test_connections_per_ip(srv):
    socks = []
    try:
        for _ in range(8):
            socks.append(connect_http(srv))
        time.sleep(0.3)
        extra = connect_http(srv)
        extra.settimeout(5)
        try:
            extra.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            data = extra.recv(100)
        except (ConnectionResetError, BrokenPipeError, socket.timeout):
            data = b""
        extra.close()
        if srv.workers == 1:
            check(data == b"", "the 9th connection from one address was served: %r" % data[:40])
    finally:
        for s in socks:
            s.close()
    time.sleep(0.3)
    still_alive(srv)


def test_xmpp_unaffected(srv):
    c = RawClient(srv)
    c.open()
    c.close()


if __name__ == "__main__":
    run_tests([test_oversized_headers, test_oversized_body, test_garbage,
               test_slow_client_timed_out, test_connections_per_ip, test_xmpp_unaffected], srv)
