#!/usr/bin/python3
"""77-upload: XEP-0363 end to end over real HTTP: a 5 MB file through a
slot (PUT 201, GET byte-identical with its Content-Type, HEAD, a Range
request answered 206), and every refusal of the PUT side: Content-Length
other than the slot's (413 larger, 400 smaller), a bad or missing
signature and a Content-Type other than the slot's (403), a used slot
(409), unknown files (404); the quota counts stored files."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, run_tests  # noqa: E402
from roster_peer import show  # noqa: E402
from upload_util import (expect_error, http, new_slot, put, random_bytes, request,  # noqa: E402
                         slot, uploader, with_query)

MB5 = 5 * 1024 * 1024
MAX = 6 * 1024 * 1024
QUOTA = 8 * 1024 * 1024


def expect_status(got, want, what):
    status, headers, body = got
    if status != want:
        raise TestFailure("%s: HTTP %d expected, got %d %r" % (what, want, status, body[:200]))
    return headers, body


async def test_five_megabytes_round_trip(srv):
    p = await uploader(srv)
    data = random_bytes(MB5)
    put_url, get_url = await new_slot(p, srv, "data set.bin", MB5, "application/x-test")
    if not put_url.startswith(("http://", "https://")):
        raise TestFailure("not an HTTP URL: %s" % put_url)
    expect_status(put(put_url, data, "application/x-test"), 201, "PUT")
    headers, body = expect_status(http(get_url), 200, "GET")
    if body != data:
        raise TestFailure("GET returned %d bytes, not the %d uploaded" % (len(body), len(data)))
    if headers.get("content-type", "").split(";")[0].strip() != "application/x-test":
        raise TestFailure("GET Content-Type %r" % headers.get("content-type"))
    headers, body = expect_status(http(get_url, "HEAD"), 200, "HEAD")
    if headers.get("content-length") != str(MB5) or body:
        raise TestFailure("HEAD: Content-Length %r, %d body bytes" % (headers.get("content-length"), len(body)))
    headers, body = expect_status(http(get_url, headers={"Range": "bytes=1000-1999"}), 206, "Range")
    if body != data[1000:2000]:
        raise TestFailure("Range: wrong bytes (%d)" % len(body))
    if headers.get("content-range") != "bytes 1000-1999/%d" % MB5:
        raise TestFailure("Content-Range %r" % headers.get("content-range"))
    headers, body = expect_status(http(get_url, headers={"Range": "bytes=-10"}), 206, "suffix Range")
    if body != data[-10:]:
        raise TestFailure("suffix Range: wrong bytes")
    expect_status(http(get_url, headers={"Range": "bytes=%d-" % (MB5 + 10)}), 416, "Range past the end")
    # the stored file counts against the quota (8 MiB): 5 + 4 MiB do not fit
    expect_error(await request(p, srv, "more.bin", 4 * 1024 * 1024), "wait", "resource-constraint")
    slot(await request(p, srv, "small.bin", 1024))


async def test_size_must_match(srv):
    p = await uploader(srv)
    expect_error(await request(p, srv, "huge.bin", MAX + 1), "modify", "not-acceptable")
    put_url, get_url = await new_slot(p, srv, "k.bin", 1000, "application/octet-stream")
    expect_status(put(put_url, random_bytes(2000), "application/octet-stream", early=True), 413,
                  "larger PUT")
    expect_status(put(put_url, random_bytes(500), "application/octet-stream", early=True), 400,
                  "smaller PUT")
    expect_status(http(get_url), 404, "GET before any upload")
    data = random_bytes(1000)
    expect_status(put(put_url, data, "application/octet-stream"), 201, "PUT after refusals")
    _, body = expect_status(http(get_url), 200, "GET")
    if body != data:
        raise TestFailure("wrong bytes")


async def test_signature_checked(srv):
    p = await uploader(srv)
    data = random_bytes(300)
    put_url, get_url = await new_slot(p, srv, "s.txt", len(data), "text/plain")
    sig = dict(x.split("=", 1) for x in put_url.split("?", 1)[1].split("&"))["v"]
    flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
    # all refused from the headers alone, before any byte of the body
    expect_status(put(with_query(put_url, v=flipped), data, "text/plain", early=True), 403,
                  "flipped signature")
    expect_status(put(with_query(put_url, e=int(put_url.split("e=")[1].split("&")[0]) + 3600),
                      data, "text/plain", early=True), 403, "later expiry")
    expect_status(put(put_url.split("?")[0], data, "text/plain", early=True), 403, "no signature")
    expect_status(put(put_url.replace("/s.txt?", "/t.txt?"), data, "text/plain", early=True), 403,
                  "other name")
    expect_status(put(put_url, data, "text/html", early=True), 403, "other Content-Type")
    expect_status(put(put_url, data, "text/plain"), 201, "good PUT")
    expect_status(put(put_url, data, "text/plain", early=True), 409, "second PUT of the slot")
    _, body = expect_status(http(get_url), 200, "GET")
    if body != data:
        raise TestFailure("the second PUT changed the file")


async def test_unknown_files(srv):
    p = await uploader(srv)
    put_url, get_url = await new_slot(p, srv, "u.txt", 5, "text/plain")
    expect_status(put(put_url, b"hello", "text/plain"), 201, "PUT")
    base = get_url.rsplit("/", 2)[0]
    expect_status(http(base + "/" + "0" * 32 + "/u.txt"), 404, "unknown slot")
    expect_status(http(get_url.rsplit("/", 1)[0] + "/other.txt"), 404, "other name")
    expect_status(http(base + "/not-a-slot/u.txt"), 404, "malformed slot id")
    headers, body = expect_status(http(get_url), 200, "GET")
    if body != b"hello":
        raise TestFailure("GET: %r" % body)


if __name__ == "__main__":
    srv = Server(config={"modules.upload.max_file_size": MAX,
                         "modules.upload.quota": QUOTA})
    run_tests([test_five_megabytes_round_trip, test_size_must_match, test_signature_checked,
               test_unknown_files], srv)
