#!/usr/bin/python3
"""23-version: mod_version (XEP-0092): name and version from the domain,
no operating system unless version.show_os is set."""

import re
import xml.etree.ElementTree as ET

import harness
from harness import Server, TestFailure, connect, run_tests
from slixmpp.exceptions import IqError

NS = "jabber:iq:version"


iq = harness.send_iq  # an IQ with a raw payload; the reply, result or error


async def user(srv):
    bare, pw = srv.new_user("user")
    return await connect(srv, bare + "/res", pw)


async def test_version(srv):
    c = await user(srv)
    r = await iq(c, "<query xmlns='%s'/>" % NS, to=srv.domain)
    if r["type"] != "result":
        raise TestFailure("expected a result, got %s" % r)
    q = r.xml.find("{%s}query" % NS)
    name, version = q.findtext("{%s}name" % NS), q.findtext("{%s}version" % NS)
    if name != "Aldis":
        raise TestFailure("name %r" % name)
    if not version or not re.fullmatch(r"\d+\.\d+\.\d+\S*", version):
        raise TestFailure("version %r" % version)
    if q.find("{%s}os" % NS) is not None:
        raise TestFailure("the OS is shown by default (XEP-0092 §5)")


async def test_set_is_refused(srv):
    c = await user(srv)
    r = await iq(c, "<query xmlns='%s'/>" % NS, type="set", to=srv.domain)
    if r["type"] != "error":
        raise TestFailure("a version set was accepted: %s" % r)


async def test_not_answered_for_accounts(srv):
    c = await user(srv)
    r = await iq(c, "<query xmlns='%s'/>" % NS, to=c.boundjid.bare)
    if r["type"] != "error" or r["error"]["condition"] != "service-unavailable":
        raise TestFailure("version of a bare JID: expected service-unavailable, got %s" % r)


async def test_show_os(srv):
    # a second instance with the option on
    other = Server(**{"modules.version.show_os": True})
    try:
        other.start()
        bare, pw = other.new_user("user")
        c = await connect(other, bare + "/res", pw)
        r = await iq(c, "<query xmlns='%s'/>" % NS, to=other.domain)
        os_name = r.xml.find("{%s}query/{%s}os" % (NS, NS))
        if os_name is None or not os_name.text:
            raise TestFailure("show_os set but no <os/>: %s" % r)
        await harness.disconnect(c)
        other.stop()
    finally:
        other.cleanup()


if __name__ == "__main__":
    run_tests([test_version, test_set_is_refused, test_not_answered_for_accounts, test_show_os],
              srv=Server())
