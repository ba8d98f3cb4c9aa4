#!/usr/bin/python3
"""45-bookmarks: PEP Native Bookmarks (XEP-0402) on mod_pep: publish with
the recommended publish-options (XEP-0223 private storage), retrieve,
notifications to the owner's interested resources only, retraction,
contacts kept out, and the #compat view: the legacy <storage
xmlns='storage:bookmarks'/> of XEP-0048 in private XML storage (XEP-0049)
follows the PEP node, and a legacy store updates the node item by item."""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Server, TestFailure, assert_no_stanza, run_tests, wait_stanza  # noqa: E402
from pep_util import (INFO, PRIVATE, befriend, client, expect_error, expect_result,  # noqa: E402
                      iq, is_item_event, is_retract_event, items, publish, published_id,
                      result_items, user)

BM = "urn:xmpp:bookmarks:1"
LEGACY = "storage:bookmarks"
OPTIONS = {"pubsub#persist_items": "true", "pubsub#max_items": "max",
           "pubsub#send_last_published_item": "never", "pubsub#access_model": "whitelist"}


def conference(name, autojoin=True, nick=None, password=None):
    inner = ("<nick>%s</nick>" % nick if nick else "") + (
        "<password>%s</password>" % password if password else "")
    return "<conference xmlns='%s' name='%s' autojoin='%s'>%s</conference>" % (
        BM, name, "true" if autojoin else "false", inner)


async def add(c, room, name, **kw):
    return published_id(await publish(c, BM, conference(name, **kw), id=room, options=OPTIONS))


async def legacy(c):
    """The legacy bookmarks as {jid: (name, autojoin, nick, password)}."""
    r = expect_result(await iq(c, "<query xmlns='%s'><storage xmlns='%s'/></query>"
                               % (PRIVATE, LEGACY), type="get"))
    storage = r.xml.find("{%s}query/{%s}storage" % (PRIVATE, LEGACY))
    if storage is None:
        raise TestFailure("no legacy storage in %s" % r)
    out = {}
    for conf in storage.findall("{%s}conference" % LEGACY):
        out[conf.get("jid")] = (conf.get("name"), conf.get("autojoin"),
                                conf.findtext("{%s}nick" % LEGACY),
                                conf.findtext("{%s}password" % LEGACY))
    return out


async def pep_bookmarks(c):
    return {id: (p.get("name"), p.get("autojoin"), p.findtext("{%s}nick" % BM))
            for id, p in result_items(await items(c, c.boundjid.bare, BM))}


async def test_compat_feature(srv):
    a = await user(srv, "alice")
    r = expect_result(await iq(a, "<query xmlns='%s'/>" % INFO, type="get", to=a.boundjid.bare))
    if BM + "#compat" not in [f.get("var") for f in r.xml.iter("{%s}feature" % INFO)]:
        raise TestFailure("no %s#compat feature" % BM)


async def test_publish_retrieve_and_legacy_view(srv):
    a = await user(srv, "alice", notify=[BM])
    other = await client(srv, a.boundjid.bare, a.h_password, "old-client")  # no +notify
    room1, room2 = "theplay@conference.localhost", "orchard@conference.localhost"
    await add(a, room1, "The Play", nick="JC")
    await wait_stanza(a, is_item_event(BM, room1, frm=a.boundjid.bare))
    await add(a, room2, "Orchard", autojoin=False, password="s3cret")
    await wait_stanza(a, is_item_event(BM, room2))
    await assert_no_stanza(other, is_item_event(BM), what="bookmark notification without +notify")
    got = await pep_bookmarks(a)
    if got != {room1: ("The Play", "true", "JC"), room2: ("Orchard", "false", None)}:
        raise TestFailure("PEP bookmarks: %s" % got)
    old = await legacy(other)
    if old != {room1: ("The Play", "true", "JC", None), room2: ("Orchard", "false", None, "s3cret")}:
        raise TestFailure("legacy view: %s" % old)
    # XEP-0402 §3.3: removing a bookmark
    expect_result(await iq(a, "<pubsub xmlns='http://jabber.org/protocol/pubsub'>"
                           "<retract node='%s' notify='true'><item id='%s'/></retract></pubsub>"
                           % (BM, room1)))
    await wait_stanza(a, is_retract_event(BM, room1))
    if set(await legacy(a)) != {room2}:
        raise TestFailure("legacy view after retract: %s" % await legacy(a))


async def test_contacts_cannot_see_bookmarks(srv):
    a = await user(srv, "alice")
    b = await user(srv, "bob", notify=[BM])
    await befriend(a, b)
    await add(a, "secret@conference.localhost", "Secret")
    expect_error(await items(b, a.boundjid.bare, BM), "not-allowed", "closed-node")
    await assert_no_stanza(b, is_item_event(BM), what="bookmark notification to a contact")


async def test_legacy_store_updates_pep(srv):
    a = await user(srv, "alice", notify=[BM])
    await add(a, "keep@conference.localhost", "Keep", nick="me")
    await add(a, "drop@conference.localhost", "Drop")
    await wait_stanza(a, is_item_event(BM, "drop@conference.localhost"))
    storage = ("<storage xmlns='%s'>"
               "<conference jid='keep@conference.localhost' name='Keep' autojoin='true'>"
               "<nick>me</nick></conference>"
               "<conference jid='new@conference.localhost' name='New' autojoin='1'/>"
               "</storage>" % LEGACY)
    expect_result(await iq(a, "<query xmlns='%s'>%s</query>" % (PRIVATE, storage)))
    await wait_stanza(a, is_item_event(BM, "new@conference.localhost"))
    await wait_stanza(a, is_retract_event(BM, "drop@conference.localhost"))
    got = await pep_bookmarks(a)
    if got != {"keep@conference.localhost": ("Keep", "true", "me"),
               "new@conference.localhost": ("New", "true", None)}:
        raise TestFailure("PEP after a legacy store: %s" % got)
    # the unchanged bookmark is not notified again
    await asyncio.sleep(harness.scaled(0.5))
    keep = [s for s in harness.collected(a) if is_item_event(BM, "keep@conference.localhost")(s)]
    if len(keep) != 1:
        raise TestFailure("%d notifications of the unchanged bookmark" % len(keep))
    if set(await legacy(a)) != {"keep@conference.localhost", "new@conference.localhost"}:
        raise TestFailure("legacy view: %s" % await legacy(a))


async def test_private_pep_storage(srv):
    """XEP-0223: any node published with whitelist publish-options."""
    a = await user(srv, "alice")
    b = await user(srv, "bob")
    await befriend(a, b)
    node = "urn:example:private-prefs"
    opts = {"pubsub#persist_items": "true", "pubsub#access_model": "whitelist"}
    published_id(await publish(a, node, "<prefs xmlns='%s'>dark</prefs>" % node, id="current",
                               options=opts))
    got = result_items(await items(a, a.boundjid.bare, node))
    if [(i, p.text) for i, p in got] != [("current", "dark")]:
        raise TestFailure("private item: %s" % got)
    expect_error(await items(b, a.boundjid.bare, node), "not-allowed")
    expect_error(await publish(a, node, "<prefs xmlns='%s'>light</prefs>" % node, id="current",
                               options={"pubsub#access_model": "open"}),
                 "conflict", "precondition-not-met")


if __name__ == "__main__":
    run_tests([
        test_compat_feature,
        test_publish_retrieve_and_legacy_view,
        test_contacts_cannot_see_bookmarks,
        test_legacy_store_updates_pep,
        test_private_pep_storage,
    ], srv=Server())
