#!/usr/bin/python3
"""79-upload-expiry: time and deletion in XEP-0363 uploads: a PUT after
the slot's expiry is refused (403) while one in time succeeds; deleting
an account makes its files unavailable at once and the sweep removes
them from disk; unused slots stop counting against the quota once
expired. Runs with slot_lifetime 2 s and a sweep every second."""

import glob
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, run_tests, scaled  # noqa: E402
from upload_util import (expect_error, http, new_slot, put, random_bytes, request,  # noqa: E402
                         slot, slot_id, uploader, wait_until)

LIFETIME = 2


def files_of(srv, sid):
    return glob.glob(os.path.join(srv.dir, "uploads", "files", "*", sid))


async def test_expired_slot_refused(srv):
    p = await uploader(srv)
    put_url, get_url = await new_slot(p, srv, "late.txt", 4, "text/plain")
    time.sleep(LIFETIME + 1.5)
    status, _, body = put(put_url, b"late", "text/plain", early=True)
    if status != 403:
        raise TestFailure("PUT after expiry: 403 expected, got %d %r" % (status, body))
    put_url, get_url = await new_slot(p, srv, "early.txt", 5, "text/plain")
    status, _, body = put(put_url, b"early", "text/plain")
    if status != 201:
        raise TestFailure("PUT in time: 201 expected, got %d %r" % (status, body))


async def test_expired_slots_free_the_quota(srv):
    p = await uploader(srv)
    slot(await request(p, srv, "a.bin", 900))
    expect_error(await request(p, srv, "b.bin", 900), "wait", "resource-constraint")
    time.sleep(LIFETIME + 1.5)
    slot(await request(p, srv, "b.bin", 900))


async def test_deleted_account_files_go(srv):
    p = await uploader(srv)
    put_url, get_url = await new_slot(p, srv, "mine.bin", 64, "application/octet-stream")
    if put(put_url, random_bytes(64), "application/octet-stream")[0] != 201:
        raise TestFailure("upload failed")
    if http(get_url)[0] != 200:
        raise TestFailure("GET before deletion failed")
    sid = slot_id(get_url)
    if not files_of(srv, sid):
        raise TestFailure("file not found under the instance's uploads/files")
    p.close()
    srv.ctl("user", "del", p.bare)
    status = http(get_url)[0]
    if status != 404:
        raise TestFailure("GET after the account was deleted: 404 expected, got %d" % status)
    wait_until(lambda: not files_of(srv, sid), 10, "the deleted account's file removed by the sweep")


if __name__ == "__main__":
    srv = Server(config={"modules.upload.slot_lifetime": LIFETIME,
                         "modules.upload.sweep_interval": 1,
                         "modules.upload.quota": 1000})
    run_tests([test_expired_slot_refused, test_expired_slots_free_the_quota,
               test_deleted_account_files_go], srv)
