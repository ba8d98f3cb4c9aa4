#!/usr/bin/python3
"""44-pep: mod_pep (XEP-0163) on real slixmpp clients: publish with
auto-create, notifications to the owner's resources and to contacts
filtered by "+notify" caps (XEP-0115), last item when a contact's resource
becomes available or gains a subscription, the per-account quota, access
models presence and whitelist, publish-options
preconditions, retract, items by id and max_items, node configuration,
purge and delete, only the owner publishes, persistence across a restart."""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Server, TestFailure, assert_no_stanza, run_tests, wait_stanza  # noqa: E402
from pep_util import (DATA, EVENT, INFO, ITEMS, OWNER, PUBSUB, befriend, client, event_of,  # noqa: E402
                      event_payload, expect_error, expect_result, form, iq, is_item_event,
                      is_retract_event, items, publish, published_id, result_items, user)

TUNE = "http://jabber.org/protocol/tune"
MOOD = "http://jabber.org/protocol/mood"
SECRET = "urn:example:secret"


def tune(title):
    return "<tune xmlns='%s'><title>%s</title></tune>" % (TUNE, title)


def titles(pairs):
    return [p.findtext("{%s}title" % TUNE) if p is not None else None for _, p in pairs]


async def test_disco_identity_and_features(srv):
    a = await user(srv, "alice")
    r = expect_result(await iq(a, "<query xmlns='%s'/>" % INFO, type="get", to=a.boundjid.bare))
    ids = [(i.get("category"), i.get("type")) for i in r.xml.iter("{%s}identity" % INFO)]
    feats = [f.get("var") for f in r.xml.iter("{%s}feature" % INFO)]
    if ("pubsub", "pep") not in ids:
        raise TestFailure("no pubsub/pep identity: %s" % ids)
    for f in (PUBSUB, PUBSUB + "#publish", PUBSUB + "#publish-options", PUBSUB + "#auto-create",
              PUBSUB + "#filtered-notifications", PUBSUB + "#access-whitelist"):
        if f not in feats:
            raise TestFailure("feature %s missing: %s" % (f, feats))


async def test_publish_notifies_own_resources(srv):
    a = await user(srv, "alice", "phone", notify=[TUNE])
    other = await client(srv, a.boundjid.bare, a.h_password, "laptop", notify=[TUNE])
    plain = await client(srv, a.boundjid.bare, a.h_password, "watch")  # no +notify
    id = published_id(await publish(a, TUNE, tune("Finzi")))
    for c in (a, other):
        ev = await wait_stanza(c, is_item_event(TUNE, id, frm=a.boundjid.bare))
        if ev["type"] != "headline":
            raise TestFailure("notification type %s" % ev["type"])
        if event_payload(ev, TUNE).findtext("{%s}title" % TUNE) != "Finzi":
            raise TestFailure("payload missing: %s" % ev)
    await assert_no_stanza(plain, is_item_event(TUNE), what="notification without +notify")
    got = result_items(await items(a, a.boundjid.bare, TUNE))
    if [i for i, _ in got] != [id] or titles(got) != ["Finzi"]:
        raise TestFailure("items: %s" % got)


async def test_contacts_filtered_by_notify(srv):
    a = await user(srv, "alice")
    b = await user(srv, "bob", notify=[TUNE])
    c = await user(srv, "carol", notify=[MOOD])
    await befriend(a, b)
    await befriend(a, c)
    id = published_id(await publish(a, TUNE, tune("Air")))
    await wait_stanza(b, is_item_event(TUNE, id, frm=a.boundjid.bare))
    await assert_no_stanza(c, is_item_event(TUNE), what="tune notification without tune+notify")


async def test_last_item_when_contact_becomes_available(srv):
    a = await user(srv, "alice")
    b = await user(srv, "bob", notify=[TUNE])
    await befriend(a, b)
    published_id(await publish(a, TUNE, tune("First")))
    id = published_id(await publish(a, TUNE, tune("Second")))
    await wait_stanza(b, is_item_event(TUNE, id))
    # a second resource of bob comes online: XEP-0163 §4.3.3 rule 2
    b2 = await client(srv, b.boundjid.bare, b.h_password, "tablet", notify=[TUNE])
    ev = await wait_stanza(b2, is_item_event(TUNE, id, frm=a.boundjid.bare))
    if event_payload(ev, TUNE).findtext("{%s}title" % TUNE) != "Second":
        raise TestFailure("not the last item: %s" % ev)
    # max_items defaults to 1 (XEP-0163 §5)
    got = result_items(await items(b, a.boundjid.bare, TUNE))
    if titles(got) != ["Second"]:
        raise TestFailure("items: %s" % got)


async def test_last_item_to_new_subscriber(srv):
    """XEP-0163 §4.3.4: a contact that gains a presence subscription is a
    new subscriber and gets the last item without coming online again."""
    a = await user(srv, "alice")
    id = published_id(await publish(a, TUNE, tune("Before we met")))
    b = await user(srv, "bob", notify=[TUNE])
    await befriend(a, b)
    ev = await wait_stanza(b, is_item_event(TUNE, id, frm=a.boundjid.bare))
    if event_payload(ev, TUNE).findtext("{%s}title" % TUNE) != "Before we met":
        raise TestFailure("not the last item: %s" % ev)


async def test_bounced_notification(srv):
    """XEP-0163 §4.3.1: an error about a notification comes back to the
    bare JID; the service takes it (the user's clients never see it) and
    stops notifying that resource until it is seen again."""
    a = await user(srv, "alice", notify=[TUNE])
    b = await user(srv, "bob", notify=[TUNE])
    await befriend(a, b)
    b.send_raw("<message type='error' to='%s'><event xmlns='%s'/><error type='cancel'>"
               "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
               "</message>" % (a.boundjid.bare, EVENT))
    await asyncio.sleep(harness.scaled(0.3))
    id = published_id(await publish(a, TUNE, tune("After the bounce")))
    await wait_stanza(a, is_item_event(TUNE, id))
    await assert_no_stanza(b, is_item_event(TUNE), what="notification after a bounce")
    await assert_no_stanza(a, lambda s: s.name == "message" and s["type"] == "error",
                           wait=0.1, what="bounced notification delivered to the user")
    b.send_presence()
    await wait_stanza(b, is_item_event(TUNE, id))


async def test_account_quota(srv):
    """pep.max_account_bytes (64 KiB here) bounds what one account keeps."""
    a = await user(srv, "alice")
    big = "x" * 30000
    opts = {"pubsub#max_items": "10", "pubsub#access_model": "whitelist"}
    published_id(await publish(a, SECRET, "<s xmlns='%s'>%s</s>" % (SECRET, big), id="1",
                               options=opts))
    published_id(await publish(a, SECRET, "<s xmlns='%s'>%s</s>" % (SECRET, big), id="2"))
    expect_error(await publish(a, SECRET, "<s xmlns='%s'>%s</s>" % (SECRET, big), id="3"),
                 "resource-constraint")
    # replacing an item counts the old one as gone
    published_id(await publish(a, SECRET, "<s xmlns='%s'>%s</s>" % (SECRET, big[:-10]), id="2"))
    expect_result(await iq(a, "<pubsub xmlns='%s'><retract node='%s'><item id='1'/></retract>"
                           "</pubsub>" % (PUBSUB, SECRET)))
    published_id(await publish(a, SECRET, "<s xmlns='%s'>%s</s>" % (SECRET, big), id="3"))


async def test_access_presence_and_whitelist(srv):
    a = await user(srv, "alice")
    b = await user(srv, "bob", notify=[TUNE, SECRET])
    stranger = await user(srv, "dave", notify=[TUNE])
    await befriend(a, b)
    published_id(await publish(a, TUNE, tune("Open to friends")))
    sid = published_id(await publish(a, SECRET, "<s xmlns='%s'>x</s>" % SECRET,
                                     options={"pubsub#access_model": "whitelist"}))
    # presence access: a subscriber reads, a stranger is refused
    if titles(result_items(await items(b, a.boundjid.bare, TUNE))) != ["Open to friends"]:
        raise TestFailure("subscriber cannot read the presence node")
    expect_error(await items(stranger, a.boundjid.bare, TUNE, ), "not-authorized",
                 "presence-subscription-required")
    # whitelist: only the owner
    expect_error(await items(b, a.boundjid.bare, SECRET), "not-allowed", "closed-node")
    got = result_items(await items(a, a.boundjid.bare, SECRET))
    if [i for i, _ in got] != [sid]:
        raise TestFailure("owner cannot read the whitelist node: %s" % got)
    await assert_no_stanza(b, is_item_event(SECRET), what="whitelist notification to a contact")
    # the contact lists only what it may see
    r = expect_result(await iq(b, "<query xmlns='%s'/>" % ITEMS, type="get", to=a.boundjid.bare))
    nodes = [i.get("node") for i in r.xml.iter("{%s}item" % ITEMS)]
    if TUNE not in nodes or SECRET in nodes:
        raise TestFailure("disco#items for a contact: %s" % nodes)


async def test_publish_options_preconditions(srv):
    a = await user(srv, "alice")
    published_id(await publish(a, MOOD, "<mood xmlns='%s'><happy/></mood>" % MOOD))
    expect_error(await publish(a, MOOD, "<mood xmlns='%s'><sad/></mood>" % MOOD,
                               options={"pubsub#access_model": "whitelist"}),
                 "conflict", "precondition-not-met")
    expect_error(await publish(a, MOOD, "<mood xmlns='%s'><sad/></mood>" % MOOD,
                               options={"pubsub#persist_items": "true", "urn:x:unknown": "1"}),
                 "conflict", "precondition-not-met")
    published_id(await publish(a, MOOD, "<mood xmlns='%s'><sad/></mood>" % MOOD,
                               options={"pubsub#access_model": "presence",
                                        "pubsub#persist_items": "1", "pubsub#max_items": "1"}))
    # auto-create applies the options (XEP-0223)
    published_id(await publish(a, SECRET, "<s xmlns='%s'/>" % SECRET,
                               options={"pubsub#access_model": "whitelist",
                                        "pubsub#max_items": "max"}))
    r = expect_result(await iq(a, "<pubsub xmlns='%s'><configure node='%s'/></pubsub>"
                               % (OWNER, SECRET), type="get"))
    fields = {f.get("var"): f.findtext("{%s}value" % DATA) for f in r.xml.iter("{%s}field" % DATA)}
    if fields.get("pubsub#access_model") != "whitelist" or fields.get("pubsub#max_items") != "max":
        raise TestFailure("configuration after publish-options: %s" % fields)


async def test_retract_items_by_id_and_max(srv):
    a = await user(srv, "alice", notify=[SECRET])
    b = await user(srv, "bob", notify=[SECRET])
    await befriend(a, b)
    opts = "<configure>%s</configure>" % form(PUBSUB + "#node_config", {
        "pubsub#max_items": "10", "pubsub#access_model": "presence"})
    expect_result(await iq(a, "<pubsub xmlns='%s'><create node='%s'/>%s</pubsub>"
                           % (PUBSUB, SECRET, opts)))
    expect_error(await iq(a, "<pubsub xmlns='%s'><create node='%s'/></pubsub>" % (PUBSUB, SECRET)),
                 "conflict")
    for i in range(4):
        published_id(await publish(a, SECRET, "<s xmlns='%s'>%d</s>" % (SECRET, i), id="i%d" % i))
    got = result_items(await items(a, a.boundjid.bare, SECRET))
    if [i for i, _ in got] != ["i0", "i1", "i2", "i3"]:
        raise TestFailure("items in order: %s" % [i for i, _ in got])
    # republishing an id makes it the newest
    published_id(await publish(a, SECRET, "<s xmlns='%s'>again</s>" % SECRET, id="i1"))
    got = result_items(await items(a, a.boundjid.bare, SECRET, max_items=2))
    if [i for i, _ in got] != ["i3", "i1"]:
        raise TestFailure("max_items=2: %s" % [i for i, _ in got])
    got = result_items(await items(b, a.boundjid.bare, SECRET, ids=["i2", "i0"]))
    if sorted(i for i, _ in got) != ["i0", "i2"]:
        raise TestFailure("by id: %s" % [i for i, _ in got])
    expect_result(await iq(a, "<pubsub xmlns='%s'><retract node='%s' notify='true'>"
                           "<item id='i2'/></retract></pubsub>" % (PUBSUB, SECRET)))
    await wait_stanza(b, is_retract_event(SECRET, "i2"))
    await wait_stanza(a, is_retract_event(SECRET, "i2"))
    expect_error(await iq(a, "<pubsub xmlns='%s'><retract node='%s'><item id='i2'/></retract>"
                          "</pubsub>" % (PUBSUB, SECRET)), "item-not-found")
    got = result_items(await items(a, a.boundjid.bare, SECRET))
    if [i for i, _ in got] != ["i0", "i3", "i1"]:
        raise TestFailure("after retract: %s" % [i for i, _ in got])


async def test_configure_purge_delete(srv):
    a = await user(srv, "alice", notify=[MOOD])
    for i in range(3):
        published_id(await publish(a, MOOD, "<mood xmlns='%s'><happy/></mood>" % MOOD, id="m%d" % i))
    if len(result_items(await items(a, a.boundjid.bare, MOOD))) != 1:
        raise TestFailure("default max_items is not 1")
    expect_result(await iq(a, "<pubsub xmlns='%s'><configure node='%s'>%s</configure></pubsub>"
                           % (OWNER, MOOD, form(PUBSUB + "#node_config",
                                                {"pubsub#max_items": "5"}))))
    expect_error(await iq(a, "<pubsub xmlns='%s'><configure node='%s'>%s</configure></pubsub>"
                          % (OWNER, MOOD, form(PUBSUB + "#node_config",
                                               {"pubsub#access_model": "bogus"}))),
                 "not-acceptable")
    for i in range(3, 6):
        published_id(await publish(a, MOOD, "<mood xmlns='%s'><sad/></mood>" % MOOD, id="m%d" % i))
    if len(result_items(await items(a, a.boundjid.bare, MOOD))) != 4:
        raise TestFailure("max_items 5 not applied")
    expect_result(await iq(a, "<pubsub xmlns='%s'><purge node='%s'/></pubsub>" % (OWNER, MOOD)))
    await wait_stanza(a, lambda s: (event_of(s, MOOD) is not None
                                    and event_of(s, MOOD).tag.endswith("}purge")))
    if result_items(await items(a, a.boundjid.bare, MOOD)):
        raise TestFailure("items left after purge")
    expect_result(await iq(a, "<pubsub xmlns='%s'><delete node='%s'/></pubsub>" % (OWNER, MOOD)))
    await wait_stanza(a, lambda s: (event_of(s, MOOD) is not None
                                    and event_of(s, MOOD).tag.endswith("}delete")))
    expect_error(await items(a, a.boundjid.bare, MOOD), "item-not-found")
    r = expect_result(await iq(a, "<pubsub xmlns='%s'><default/></pubsub>" % OWNER, type="get"))
    if r.xml.find(".//{%s}x" % DATA) is None:
        raise TestFailure("no default configuration form")


async def test_only_the_owner_publishes(srv):
    a = await user(srv, "alice")
    b = await user(srv, "bob")
    await befriend(a, b)
    published_id(await publish(a, TUNE, tune("Mine")))
    expect_error(await publish(b, TUNE, tune("Yours"), to=a.boundjid.bare), "forbidden")
    expect_error(await iq(b, "<pubsub xmlns='%s'><purge node='%s'/></pubsub>" % (OWNER, TUNE),
                          to=a.boundjid.bare), "forbidden")
    expect_error(await iq(a, "<pubsub xmlns='%s'><publish node='%s'><item/></publish></pubsub>"
                          % (PUBSUB, TUNE)), "bad-request", "payload-required")
    expect_error(await iq(a, "<pubsub xmlns='%s'><subscribe node='%s' jid='%s'/></pubsub>"
                          % (PUBSUB, TUNE, a.boundjid.bare)), "feature-not-implemented",
                 "unsupported")
    if titles(result_items(await items(a, a.boundjid.bare, TUNE))) != ["Mine"]:
        raise TestFailure("the contact's publish changed the node")


async def test_persistence_across_restart(srv):
    a = await user(srv, "alice")
    bare, pw = a.boundjid.bare, a.h_password
    published_id(await publish(a, TUNE, tune("Kept"), id="keep"))
    published_id(await publish(a, SECRET, "<s xmlns='%s'>private</s>" % SECRET, id="p",
                               options={"pubsub#access_model": "whitelist",
                                        "pubsub#max_items": "3"}))
    published_id(await publish(a, SECRET, "<s xmlns='%s'>private2</s>" % SECRET, id="q"))
    await harness.disconnect(a)
    srv.restart()
    a = await client(srv, bare, pw, "again", notify=[TUNE])
    # the last item comes on availability to the owner's resource too
    await wait_stanza(a, is_item_event(TUNE, "keep"))
    got = result_items(await items(a, bare, TUNE))
    if got[0][0] != "keep" or titles(got) != ["Kept"]:
        raise TestFailure("after restart: %s" % got)
    got = result_items(await items(a, bare, SECRET))
    if [i for i, _ in got] != ["p", "q"]:
        raise TestFailure("after restart: %s" % got)
    expect_error(await publish(a, SECRET, "<s xmlns='%s'/>" % SECRET,
                               options={"pubsub#access_model": "presence"}),
                 "conflict", "precondition-not-met")


if __name__ == "__main__":
    run_tests([
        test_disco_identity_and_features,
        test_publish_notifies_own_resources,
        test_contacts_filtered_by_notify,
        test_last_item_when_contact_becomes_available,
        test_last_item_to_new_subscriber,
        test_bounced_notification,
        test_account_quota,
        test_access_presence_and_whitelist,
        test_publish_options_preconditions,
        test_retract_items_by_id_and_max,
        test_configure_purge_delete,
        test_only_the_owner_publishes,
        test_persistence_across_restart,
    ], srv=Server(**{"modules.pep.max_account_bytes": 65536}))
