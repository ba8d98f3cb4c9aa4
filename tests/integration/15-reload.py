#!/usr/bin/python3
"""15-reload: SIGHUP reloads the certificates (new connections get the new
one, existing sessions keep working) and the log level; a broken
configuration is reported and the running one kept."""

import os
import signal
import subprocess
import time

import harness
from harness import RawClient, Server, TestFailure, run_tests

srv = Server()


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def server_cert_der(srv):
    r = RawClient(srv)
    r.open()
    r.starttls()
    der = r.sock.getpeercert(binary_form=True)
    r.close()
    return der


def wait_log(srv, text, timeout=5.0):
    end = time.time() + harness.scaled(timeout)
    while time.time() < end:
        if text in srv.log_text():
            return True
        time.sleep(0.1)
    return False


async def test_sighup_reloads_certificate(srv):
    jid, pw = srv.new_user()
    before = server_cert_der(srv)
    live = RawClient(srv)
    live.login(jid, pw, "stays")
    crt = os.path.join(srv.dir, srv.domain + ".crt")
    key = os.path.join(srv.dir, srv.domain + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt, "-days", "2",
                    "-subj", "/CN=" + srv.domain, "-addext", "subjectAltName=DNS:" + srv.domain],
                   check=True, capture_output=True)
    srv.proc.send_signal(signal.SIGHUP)
    check(wait_log(srv, "certificates reloaded"), "no reload line in the log")
    after = server_cert_der(srv)
    check(after != before, "new connections still get the old certificate")
    live.roundtrip()  # the session from before the reload still works
    live.close()


async def test_broken_config_keeps_running(srv):
    jid, pw = srv.new_user()  # aldisctl reads the same file: add the user first
    with open(srv.config_path) as f:
        good = f.read()
    try:
        with open(srv.config_path, "w") as f:
            f.write(good + "\nno_such_key: 1\n")
        srv.proc.send_signal(signal.SIGHUP)
        check(wait_log(srv, "reload failed"), "a broken config on reload was not reported")
        check(srv.running(), "the server stopped on a broken reload")
        r = RawClient(srv)
        r.login(jid, pw, "after")
        r.close()
    finally:
        with open(srv.config_path, "w") as f:
            f.write(good)


run_tests([test_sighup_reloads_certificate, test_broken_config_keeps_running], srv)
