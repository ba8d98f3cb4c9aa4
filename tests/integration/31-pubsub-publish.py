#!/usr/bin/python3
"""31-pubsub-publish: publishing on the pubsub.DOMAIN service (XEP-0060
§6-§7): item ids given and generated, notifications with payloads to
subscribers, the last item on subscribe, retract with notify, items by
max_items and by id, persistent items trimmed to max_items, publish-options
preconditions and auto-create, unsubscribe, and who may publish."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, assert_no_stanza, run_tests, wait_stanza  # noqa: E402
from pep_util import (EVENT, OWNER, PUBSUB, event_of, event_payload, expect_error,  # noqa: E402
                      expect_result, iq, is_item_event, is_retract_event, items, ps_create,
                      ps_owner, ps_subscribe, ps_unsubscribe, ps_user, publish, published_id,
                      result_items, service, subscription_of)

NS = "urn:example:news"


def entry(text):
    return "<entry xmlns='%s'>%s</entry>" % (NS, text)


def text_of(el):
    return el.text if el is not None else None


async def test_publish_notifies_subscribers(srv):
    a = await ps_user(srv, "alice")
    b = await ps_user(srv, "bob")
    c = await ps_user(srv, "carol")
    expect_result(await ps_create(a, "news", to=service(srv)))
    sub = subscription_of(await ps_subscribe(b, "news", service(srv)))
    if sub.get("subscription") != "subscribed" or not sub.get("subid") or \
            sub.get("jid") != b.boundjid.bare:
        raise TestFailure("subscription: %s" % sub.attrib)
    id = published_id(await publish(a, "news", entry("hello"), id="first", to=service(srv)))
    if id != "first":
        raise TestFailure("item id not kept: %s" % id)
    ev = await wait_stanza(b, is_item_event("news", "first", frm=service(srv)))
    if text_of(event_payload(ev, "news")) != "hello":
        raise TestFailure("payload: %s" % ev)
    await assert_no_stanza(c, is_item_event("news"), what="notification to a non-subscriber")
    # a generated id
    gen = published_id(await publish(a, "news", entry("second"), to=service(srv)))
    await wait_stanza(b, is_item_event("news", gen))


async def test_last_item_on_subscribe(srv):
    a = await ps_user(srv, "alice")
    b = await ps_user(srv, "bob")
    expect_result(await ps_create(a, "lastnode", to=service(srv)))
    published_id(await publish(a, "lastnode", entry("old"), id="o", to=service(srv)))
    published_id(await publish(a, "lastnode", entry("newest"), id="n", to=service(srv)))
    subscription_of(await ps_subscribe(b, "lastnode", service(srv)))
    ev = await wait_stanza(b, is_item_event("lastnode", "n"))
    if text_of(event_payload(ev, "lastnode")) != "newest":
        raise TestFailure("last item: %s" % ev)


async def test_retract_and_items(srv):
    a = await ps_user(srv, "alice")
    b = await ps_user(srv, "bob")
    expect_result(await ps_create(a, "ret", to=service(srv), config={"pubsub#max_items": "3"}))
    subscription_of(await ps_subscribe(b, "ret", service(srv)))
    for i in range(5):
        published_id(await publish(a, "ret", entry(str(i)), id="i%d" % i, to=service(srv)))
    got = [i for i, _ in result_items(await items(b, service(srv), "ret"))]
    if got != ["i2", "i3", "i4"]:
        raise TestFailure("max_items 3 kept %s" % got)
    got = [i for i, _ in result_items(await items(b, service(srv), "ret", max_items=1))]
    if got != ["i4"]:
        raise TestFailure("max_items=1: %s" % got)
    got = [i for i, _ in result_items(await items(b, service(srv), "ret", ids=["i3"]))]
    if got != ["i3"]:
        raise TestFailure("by id: %s" % got)
    # a subscriber is no publisher and may not retract
    expect_error(await iq(b, "<pubsub xmlns='%s'><retract node='ret'><item id='i3'/></retract>"
                          "</pubsub>" % PUBSUB, to=service(srv)), "forbidden")
    expect_result(await iq(a, "<pubsub xmlns='%s'><retract node='ret' notify='true'>"
                           "<item id='i3'/></retract></pubsub>" % PUBSUB, to=service(srv)))
    await wait_stanza(b, is_retract_event("ret", "i3"))
    expect_error(await iq(a, "<pubsub xmlns='%s'><retract node='ret'><item id='i3'/></retract>"
                          "</pubsub>" % PUBSUB, to=service(srv)), "item-not-found")
    got = [i for i, _ in result_items(await items(b, service(srv), "ret"))]
    if got != ["i2", "i4"]:
        raise TestFailure("after retract: %s" % got)


async def test_publish_options(srv):
    a = await ps_user(srv, "alice")
    # auto-create with publish-options as the configuration (§7.1.4, §7.1.5)
    published_id(await publish(a, "auto", entry("x"), to=service(srv),
                               options={"pubsub#max_items": "2"}))
    r = expect_result(await ps_owner(a, "<configure node='auto'/>", service(srv), type="get"))
    if b"<value>2</value>" not in str(r).encode() and "<value>2</value>" not in str(r):
        raise TestFailure("auto-created config: %s" % r)
    published_id(await publish(a, "auto", entry("y"), to=service(srv),
                               options={"pubsub#max_items": "2"}))
    expect_error(await publish(a, "auto", entry("z"), to=service(srv),
                               options={"pubsub#access_model": "whitelist"}),
                 "conflict", "precondition-not-met")
    expect_error(await publish(a, "auto2", entry("z"), to=service(srv),
                               options={"pubsub#unknown_field": "1"}),
                 "conflict", "precondition-not-met")
    # payload rules
    expect_error(await iq(a, "<pubsub xmlns='%s'><publish node='auto'><item/></publish>"
                          "</pubsub>" % PUBSUB, to=service(srv)), "bad-request",
                 "payload-required")


async def test_unsubscribe(srv):
    a = await ps_user(srv, "alice")
    b = await ps_user(srv, "bob")
    expect_result(await ps_create(a, "unsub", to=service(srv)))
    sub = subscription_of(await ps_subscribe(b, "unsub", service(srv)))
    expect_error(await iq(b, "<pubsub xmlns='%s'><unsubscribe node='unsub' jid='%s' "
                          "subid='wrong'/></pubsub>" % (PUBSUB, b.boundjid.bare),
                          to=service(srv)), "not-acceptable", "invalid-subid")
    expect_result(await iq(b, "<pubsub xmlns='%s'><unsubscribe node='unsub' jid='%s' "
                           "subid='%s'/></pubsub>" % (PUBSUB, b.boundjid.bare, sub.get("subid")),
                           to=service(srv)))
    expect_error(await ps_unsubscribe(b, "unsub", service(srv)), "unexpected-request",
                 "not-subscribed")
    published_id(await publish(a, "unsub", entry("quiet"), to=service(srv)))
    await assert_no_stanza(b, is_item_event("unsub"), what="notification after unsubscribe")


async def test_who_publishes(srv):
    a = await ps_user(srv, "alice")
    b = await ps_user(srv, "bob")
    expect_result(await ps_create(a, "mine", to=service(srv)))
    expect_error(await publish(b, "mine", entry("intruder"), to=service(srv)), "forbidden")
    # publish_model subscribers lets a subscriber publish
    expect_result(await ps_create(a, "club", to=service(srv),
                                  config={"pubsub#publish_model": "subscribers"}))
    expect_error(await publish(b, "club", entry("early"), to=service(srv)), "forbidden")
    subscription_of(await ps_subscribe(b, "club", service(srv)))
    id = published_id(await publish(b, "club", entry("member"), to=service(srv)))
    await wait_stanza(b, is_item_event("club", id))
    # open publish model
    expect_result(await ps_create(a, "wall", to=service(srv),
                                  config={"pubsub#publish_model": "open"}))
    published_id(await publish(b, "wall", entry("graffiti"), to=service(srv)))
    # subscribing someone else is refused (§6.1.3.1)
    expect_error(await ps_subscribe(b, "mine", service(srv), jid=a.boundjid.bare),
                 "bad-request", "invalid-jid")


if __name__ == "__main__":
    run_tests([
        test_publish_notifies_subscribers,
        test_last_item_on_subscribe,
        test_retract_and_items,
        test_publish_options,
        test_unsubscribe,
        test_who_publishes,
    ], srv=Server())
