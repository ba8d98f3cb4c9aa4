#!/usr/bin/python3
"""89-labels-peer-domain: clearances of peer domains (issue 5). A stanza
for another domain passes that domain's clearance (`aldisctl domain
clearance`) before anything else: labelled above it, the sender gets
<forbidden/> with a text naming the domain, audited with path=peer; within
it, the stanza goes on (here, with no federation yet, to the
remote-server-not-found answer). A domain with no clearance set is cleared
for the lowest classification only. SIGHUP reads the stored clearances
again: a domain cleared meanwhile is cleared without a restart."""

import asyncio
import os
import secrets
import signal
import time

from harness import Server, TestFailure, connect, run_tests, wait_stanza
from labels_util import catalog, error_text, labelled_message, pick, user

NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
ALLIED = "allied.example"
OTHER = "other.example"
srv = Server()


def condition(st):
    err = st.xml.find("{jabber:client}error")
    if err is None:
        return None
    for el in err:
        if el.tag.startswith("{%s}" % NS_STANZAS) and not el.tag.endswith("}text"):
            return el.tag.split("}")[1]
    return None


async def answer(client, to, label):
    mid = "m-" + secrets.token_hex(4)
    client.send_raw(labelled_message(to, "hello " + mid, label, mid) if label else
                    "<message to='%s' type='chat' id='%s'><body>x</body></message>" % (to, mid))
    return await wait_stanza(client, lambda s: s["id"] == mid and s["type"] == "error")


async def test_peer_domain_clearance(srv):
    out = srv.ctl("domain", "clearance", ALLIED, "--classification", "CONFIDENTIAL").stdout
    if "CONFIDENTIAL" not in out:
        raise TestFailure("domain clearance not set: %r" % out)
    shown = srv.ctl("domain", "clearance", ALLIED, "--show").stdout
    if "CONFIDENTIAL" not in shown:
        raise TestFailure("--show: %r" % shown)
    bad = srv.ctl("domain", "clearance", "user@" + ALLIED, "--classification", "SECRET",
                  check=False)
    if bad.returncode == 0:
        raise TestFailure("a JID with a localpart accepted as a domain")
    # peer clearances are read at startup, as room clearances are
    await asyncio.get_running_loop().run_in_executor(None, srv.restart)
    a, apw = user(srv, "alice", "SECRET")
    alice = await connect(srv, a + "/desk", apw)
    items = await catalog(alice, srv.domain, a)
    secret, conf = pick(items, "SECRET"), pick(items, "CONFIDENTIAL")

    st = await answer(alice, "bob@" + ALLIED, secret)
    text = error_text(st) or ""
    if condition(st) != "forbidden" or ALLIED not in text:
        raise TestFailure("SECRET to a CONFIDENTIAL domain: %s %r" % (condition(st), text))
    st = await answer(alice, "bob@" + ALLIED, conf)
    if condition(st) != "remote-server-not-found":
        raise TestFailure("CONFIDENTIAL to a CONFIDENTIAL domain stopped: %s" % condition(st))
    # no clearance set: the lowest only
    st = await answer(alice, "carol@" + OTHER, conf)
    if condition(st) != "forbidden":
        raise TestFailure("CONFIDENTIAL to an uncleared domain: %s" % condition(st))
    st = await answer(alice, "carol@" + OTHER, None)
    if condition(st) != "remote-server-not-found":
        raise TestFailure("unlabelled to another domain: %s" % condition(st))
    with open(os.path.join(srv.dir, "audit.log")) as f:
        lines = [l for l in f if " path=peer " in l]
    if not any("to=" + ALLIED in l and "label=SECRET" in l for l in lines) or \
            not any("to=" + OTHER in l for l in lines):
        raise TestFailure("peer refusals not audited: %s" % lines)
    # cleared while running: applies at SIGHUP, no restart
    srv.ctl("domain", "clearance", OTHER, "--classification", "CONFIDENTIAL")
    st = await answer(alice, "carol@" + OTHER, conf)
    if condition(st) != "forbidden":
        raise TestFailure("a stored clearance applied before the reload: %s" % condition(st))
    mark = srv.log_text().count("stored clearance(s) read")
    srv.proc.send_signal(signal.SIGHUP)
    end = time.time() + 5
    while time.time() < end and srv.log_text().count("stored clearance(s) read") == mark:
        await asyncio.sleep(0.1)
    st = await answer(alice, "carol@" + OTHER, conf)
    if condition(st) != "remote-server-not-found":
        raise TestFailure("CONFIDENTIAL to a domain cleared and reloaded: %s" % condition(st))
    srv.ctl("domain", "clearance", ALLIED, "--clear")


if __name__ == "__main__":
    run_tests([test_peer_domain_clearance], srv)
