#!/usr/bin/python3
"""34-push: XEP-0357 push notifications (mod_push) with the local
pubsub.DOMAIN service as the app server: the account feature, enable,
a notification with the summary form (message count, sender, no body by
default) for messages that go offline and for messages to a CSI-inactive
session, disable stopping them, and an app server error disabling the
registration."""

import asyncio
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import (RawClient, Server, TestFailure, assert_no_stanza, connect,  # noqa: E402
                     disconnect, run_tests, wait_stanza)
from pep_util import (DATA, EVENT, INFO, event_of, expect_result, form_values, iq,  # noqa: E402
                      ps_create, ps_owner, ps_subscribe, ps_user, service, subscription_of)

PUSH = "urn:xmpp:push:0"


def notification(node):
    """Predicate: a pubsub event on node carrying a push <notification/>."""
    def pred(st):
        el = event_of(st, node)
        if el is None:
            return False
        return el.find("{%s}item/{%s}notification" % (EVENT, PUSH)) is not None
    return pred


def summary(st, node):
    n = event_of(st, node).find("{%s}item/{%s}notification" % (EVENT, PUSH))
    return form_values(n.find("{%s}x" % DATA))


async def app_server(srv, node, publisher):
    """The app server: a user owning `node` on the service, subscribed to
    it, with `publisher` allowed to publish (None: nobody else)."""
    app = await ps_user(srv, "app")
    expect_result(await ps_create(app, node, to=service(srv)))
    if publisher:
        expect_result(await ps_owner(app, "<affiliations node='%s'><affiliation jid='%s' "
                                     "affiliation='publisher'/></affiliations>"
                                     % (node, publisher), service(srv)))
    subscription_of(await ps_subscribe(app, node, service(srv)))
    return app


async def enable(c, node, to):
    return await iq(c, "<enable xmlns='%s' jid='%s' node='%s'/>" % (PUSH, to, node))


async def chat(sender, to, body):
    sender.send_message(mto=to, mbody=body, mtype="chat")


async def test_feature(srv):
    a = await ps_user(srv, "alice")
    r = expect_result(await iq(a, "<query xmlns='%s'/>" % INFO, type="get",
                               to=a.boundjid.bare))
    if PUSH not in [f.get("var") for f in r.xml.iter("{%s}feature" % INFO)]:
        raise TestFailure("no %s feature: %s" % (PUSH, r))


async def test_offline_message_pushed(srv):
    a = await ps_user(srv, "alice")
    b = await ps_user(srv, "bob")
    app = await app_server(srv, "dev1", a.boundjid.bare)
    expect_result(await enable(a, "dev1", service(srv)))
    bare, pw = a.boundjid.bare, a.h_password
    await disconnect(a)
    await asyncio.sleep(harness.scaled(0.3))
    await chat(b, bare, "secret words")
    ev = await wait_stanza(app, notification("dev1"))
    s = summary(ev, "dev1")
    if s.get("FORM_TYPE") != ["urn:xmpp:push:summary"] or s.get("message-count") != ["1"]:
        raise TestFailure("summary: %s" % s)
    if s.get("last-message-sender") != [b.boundjid.full]:
        raise TestFailure("sender: %s" % s)
    if "last-message-body" in s:
        raise TestFailure("the body was pushed without being allowed: %s" % s)
    app.h_stanzas.clear()
    await chat(b, bare, "more")
    ev = await wait_stanza(app, notification("dev1"))
    if summary(ev, "dev1").get("message-count") != ["2"]:
        raise TestFailure("count: %s" % summary(ev, "dev1"))
    # back online, then disabled: no more notifications
    a = await connect(srv, bare + "/back", pw)
    expect_result(await iq(a, "<disable xmlns='%s' jid='%s'/>" % (PUSH, service(srv))))
    await disconnect(a)
    await asyncio.sleep(harness.scaled(0.3))
    app.h_stanzas.clear()
    await chat(b, bare, "nobody hears")
    await assert_no_stanza(app, notification("dev1"), what="notification after disable")


async def test_inactive_session_pushed(srv):
    a = await ps_user(srv, "alice")
    b = await ps_user(srv, "bob")
    app = await app_server(srv, "dev2", a.boundjid.bare)
    expect_result(await enable(a, "dev2", service(srv)))
    a.send_raw("<inactive xmlns='urn:xmpp:csi:0'/>")
    await asyncio.sleep(harness.scaled(0.3))
    await chat(b, a.boundjid.full, "are you there")
    await wait_stanza(a, lambda s: s.name == "message" and s["body"] == "are you there")
    await wait_stanza(app, notification("dev2"))
    a.send_raw("<active xmlns='urn:xmpp:csi:0'/>")
    await asyncio.sleep(harness.scaled(0.3))
    app.h_stanzas.clear()
    await chat(b, a.boundjid.full, "now you see it")
    await wait_stanza(a, lambda s: s.name == "message" and s["body"] == "now you see it")
    await assert_no_stanza(app, notification("dev2"), what="notification to an active session")


async def test_detached_session_pushed(srv):
    """A session whose connection died and that stream management keeps
    for a resumption cannot see messages: they are pushed."""
    bare, pw = srv.new_user()
    b = await ps_user(srv, "bob")
    app = await app_server(srv, "dev4", bare)
    r = RawClient(srv)
    full = r.login(bare.split("@")[0], pw, "phone")
    r.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
    r.expect(r"<enabled\b")
    reply = r.iq("<enable xmlns='%s' jid='%s' node='dev4'/>" % (PUSH, service(srv)), type="set")
    if "type='result'" not in reply and 'type="result"' not in reply:
        raise TestFailure("push enable: %s" % reply)
    r.send("<presence/>")
    r.roundtrip()
    r.send("<r xmlns='urn:xmpp:sm:3'/>")
    r.expect(r"<a\b")
    # a TCP reset: the session is detached, not closed
    r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    r.sock.close()
    await asyncio.sleep(harness.scaled(0.5))
    await chat(b, full, "while the link is down")
    ev = await wait_stanza(app, notification("dev4"))
    if summary(ev, "dev4").get("message-count") != ["1"]:
        raise TestFailure("summary: %s" % summary(ev, "dev4"))


async def test_app_server_error_disables(srv):
    a = await ps_user(srv, "alice")
    b = await ps_user(srv, "bob")
    # alice may not publish there: the first push is refused
    app = await app_server(srv, "dev3", None)
    expect_result(await enable(a, "dev3", service(srv)))
    bare, pw = a.boundjid.bare, a.h_password
    await disconnect(a)
    await asyncio.sleep(harness.scaled(0.3))
    await chat(b, bare, "refused")
    await asyncio.sleep(harness.scaled(0.5))
    # now she may, but the registration is gone
    expect_result(await ps_owner(app, "<affiliations node='dev3'><affiliation jid='%s' "
                                 "affiliation='publisher'/></affiliations>" % bare, service(srv)))
    await chat(b, bare, "still nothing")
    await assert_no_stanza(app, notification("dev3"), what="notification after an error")
    # and it survives a new enable (and a restart keeps registrations)
    a = await connect(srv, bare + "/again", pw)
    expect_result(await enable(a, "dev3", service(srv)))
    await disconnect(a)
    srv.stop()
    srv.start()
    app = await connect(srv, app.boundjid.bare + "/again", app.h_password)
    b = await connect(srv, b.boundjid.bare + "/again", b.h_password)
    await chat(b, bare, "after restart")
    await wait_stanza(app, notification("dev3"))


if __name__ == "__main__":
    run_tests([
        test_feature,
        test_offline_message_pushed,
        test_inactive_session_pushed,
        test_detached_session_pushed,
        test_app_server_error_disables,
    ], srv=Server())
