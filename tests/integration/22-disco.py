#!/usr/bin/python3
"""22-disco: mod_disco (XEP-0030) for the domain and, on their behalf, for
accounts, with the access rules of XEP-0030 §8 for bare JIDs."""

import asyncio
import xml.etree.ElementTree as ET

import harness
from harness import Server, TestFailure, connect, run_tests, wait_stanza
from slixmpp.exceptions import IqError

INFO = "http://jabber.org/protocol/disco#info"
ITEMS = "http://jabber.org/protocol/disco#items"


iq = harness.send_iq  # an IQ with a raw payload; the reply, result or error


def expect_error(reply, condition):
    if reply["type"] != "error" or reply["error"]["condition"] != condition:
        raise TestFailure("expected %s, got %s" % (condition, reply))


def expect_result(reply):
    if reply["type"] != "result":
        raise TestFailure("expected a result, got %s" % reply)
    return reply


def features(reply):
    return [f.get("var") for f in reply.xml.iter("{%s}feature" % INFO)]


def identities(reply):
    return [(i.get("category"), i.get("type")) for i in reply.xml.iter("{%s}identity" % INFO)]


async def user(srv, prefix="user", presence=True):
    bare, pw = srv.new_user(prefix)
    return await connect(srv, bare + "/res", pw, presence=presence)


async def test_host_info(srv):
    c = await user(srv)
    r = expect_result(await iq(c, "<query xmlns='%s'/>" % INFO, to=srv.domain))
    if ("server", "im") not in identities(r):
        raise TestFailure("no server/im identity: %s" % identities(r))
    feats = features(r)
    for f in (INFO, ITEMS, "urn:xmpp:ping", "jabber:iq:version", "jabber:iq:last",
              "vcard-temp", "urn:xmpp:blocking", "msgoffline"):
        if f not in feats:
            raise TestFailure("host feature %s missing: %s" % (f, feats))
    if len(feats) != len(set(feats)):
        raise TestFailure("duplicate features: %s" % feats)


async def test_host_node_and_items(srv):
    c = await user(srv)
    expect_error(await iq(c, "<query xmlns='%s' node='nope'/>" % INFO, to=srv.domain),
                 "item-not-found")
    expect_error(await iq(c, "<query xmlns='%s' node='nope'/>" % ITEMS, to=srv.domain),
                 "item-not-found")
    r = expect_result(await iq(c, "<query xmlns='%s'/>" % ITEMS, to=srv.domain))
    q = r.xml.find("{%s}query" % ITEMS)
    # the host's items are its service domains (e.g. conference.HOST) only
    if q is None or any(not i.get("jid", "").endswith("." + srv.domain) for i in q):
        raise TestFailure("expected only service items, got %s" % r)


async def test_account_info_self(srv):
    c = await user(srv)
    for to in (None, c.boundjid.bare):
        r = expect_result(await iq(c, "<query xmlns='%s'/>" % INFO, to=to))
        if ("account", "registered") not in identities(r):
            raise TestFailure("no account/registered identity: %s" % r)
        if INFO not in features(r):
            raise TestFailure("account features lack disco#info: %s" % features(r))
    expect_error(await iq(c, "<query xmlns='%s' node='x'/>" % INFO), "item-not-found")


async def test_account_info_hidden_from_strangers(srv):
    a = await user(srv, "alice")
    b = await user(srv, "bob")
    expect_error(await iq(a, "<query xmlns='%s'/>" % INFO, to=b.boundjid.bare),
                 "service-unavailable")
    ghost = "ghost@%s" % srv.domain
    expect_error(await iq(a, "<query xmlns='%s'/>" % INFO, to=ghost), "service-unavailable")
    # items: an empty result, whether the account exists or not (§8 rule 2)
    for to in (b.boundjid.bare,):
        r = expect_result(await iq(a, "<query xmlns='%s'/>" % ITEMS, to=to))
        if len(list(r.xml.find("{%s}query" % ITEMS))):
            raise TestFailure("items of another account listed: %s" % r)


async def test_account_info_for_subscribers(srv):
    a = await user(srv, "alice")
    b = await user(srv, "bob")
    # alice subscribes to bob; slixmpp (auto_authorize) approves for bob
    a.send_presence(pto=b.boundjid.bare, ptype="subscribe")
    await wait_stanza(a, lambda s: s.name == "presence" and s["type"] == "subscribed")
    await asyncio.sleep(harness.scaled(0.3))
    r = expect_result(await iq(a, "<query xmlns='%s'/>" % INFO, to=b.boundjid.bare))
    if ("account", "registered") not in identities(r):
        raise TestFailure("no account identity for a subscriber: %s" % r)


if __name__ == "__main__":
    run_tests([
        test_host_info,
        test_host_node_and_items,
        test_account_info_self,
        test_account_info_hidden_from_strangers,
        test_account_info_for_subscribers,
    ], srv=Server())
