#!/usr/bin/python3
"""33-pubsub-affiliations: subscriptions and affiliations on the
pubsub.DOMAIN service: an entity's own (XEP-0060 §5.6, §5.7), and the
owner's management of both (§8.8, §8.9): adding a publisher, subscribing
someone, removing a subscription, the last owner kept, and an outcast
losing its subscription."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, assert_no_stanza, run_tests, wait_stanza  # noqa: E402
from pep_util import (OWNER, PUBSUB, expect_error, expect_result, iq,  # noqa: E402
                      is_item_event, ps_create, ps_owner, ps_subscribe, ps_user, publish,
                      published_id, service, subscription_of)

NS = "urn:example:news"


def entry(text):
    return "<entry xmlns='%s'>%s</entry>" % (NS, text)


async def test_own_subscriptions_and_affiliations(srv):
    a = await ps_user(srv, "alice")
    b = await ps_user(srv, "bob")
    expect_result(await ps_create(a, "n1", to=service(srv)))
    expect_result(await ps_create(a, "n2", to=service(srv)))
    s1 = subscription_of(await ps_subscribe(b, "n1", service(srv)))
    subscription_of(await ps_subscribe(b, "n2", service(srv)))
    r = expect_result(await iq(b, "<pubsub xmlns='%s'><subscriptions/></pubsub>" % PUBSUB,
                               type="get", to=service(srv)))
    subs = sorted((s.get("node"), s.get("subscription"))
                  for s in r.xml.iter("{%s}subscription" % PUBSUB))
    if subs != [("n1", "subscribed"), ("n2", "subscribed")]:
        raise TestFailure("own subscriptions: %s" % subs)
    r = expect_result(await iq(b, "<pubsub xmlns='%s'><subscriptions node='n1'/></pubsub>"
                               % PUBSUB, type="get", to=service(srv)))
    subids = [s.get("subid") for s in r.xml.iter("{%s}subscription" % PUBSUB)]
    if subids != [s1.get("subid")]:
        raise TestFailure("subscriptions of n1: %s" % subids)
    r = expect_result(await iq(b, "<pubsub xmlns='%s'><affiliations/></pubsub>" % PUBSUB,
                               type="get", to=service(srv)))
    if list(r.xml.iter("{%s}affiliation" % PUBSUB)):
        raise TestFailure("bob has no affiliations: %s" % r)


async def test_owner_manages_subscriptions(srv):
    a = await ps_user(srv, "alice")
    b = await ps_user(srv, "bob")
    expect_result(await ps_create(a, "managed", to=service(srv)))
    expect_error(await ps_owner(b, "<subscriptions node='managed'/>", service(srv),
                                type="get"), "forbidden")
    expect_result(await ps_owner(a, "<subscriptions node='managed'><subscription jid='%s' "
                                 "subscription='subscribed'/></subscriptions>"
                                 % b.boundjid.bare, service(srv)))
    r = expect_result(await ps_owner(a, "<subscriptions node='managed'/>", service(srv),
                                     type="get"))
    jids = [s.get("jid") for s in r.xml.iter("{%s}subscription" % OWNER)]
    if jids != [b.boundjid.bare]:
        raise TestFailure("subscriptions: %s" % jids)
    id = published_id(await publish(a, "managed", entry("pushed"), to=service(srv)))
    await wait_stanza(b, is_item_event("managed", id))
    expect_result(await ps_owner(a, "<subscriptions node='managed'><subscription jid='%s' "
                                 "subscription='none'/></subscriptions>" % b.boundjid.bare,
                                 service(srv)))
    published_id(await publish(a, "managed", entry("quiet"), id="q", to=service(srv)))
    await assert_no_stanza(b, is_item_event("managed", "q"),
                           what="notification after the owner removed the subscription")


async def test_owner_manages_affiliations(srv):
    a = await ps_user(srv, "alice")
    b = await ps_user(srv, "bob")
    c = await ps_user(srv, "carol")
    expect_result(await ps_create(a, "team", to=service(srv)))
    expect_error(await publish(b, "team", entry("no"), to=service(srv)), "forbidden")
    expect_result(await ps_owner(a, "<affiliations node='team'><affiliation jid='%s' "
                                 "affiliation='publisher'/></affiliations>" % b.boundjid.bare,
                                 service(srv)))
    published_id(await publish(b, "team", entry("yes"), to=service(srv)))
    r = expect_result(await ps_owner(a, "<affiliations node='team'/>", service(srv), type="get"))
    affs = {x.get("jid"): x.get("affiliation") for x in r.xml.iter("{%s}affiliation" % OWNER)}
    if affs != {a.boundjid.bare: "owner", b.boundjid.bare: "publisher"}:
        raise TestFailure("affiliations: %s" % affs)
    # the last owner cannot go (§8.9.2.4)
    expect_error(await ps_owner(a, "<affiliations node='team'><affiliation jid='%s' "
                                "affiliation='none'/></affiliations>" % a.boundjid.bare,
                                service(srv)), "not-acceptable")
    # an outcast loses its subscription
    subscription_of(await ps_subscribe(c, "team", service(srv)))
    expect_result(await ps_owner(a, "<affiliations node='team'><affiliation jid='%s' "
                                 "affiliation='outcast'/></affiliations>" % c.boundjid.bare,
                                 service(srv)))
    published_id(await publish(a, "team", entry("not for carol"), id="nc", to=service(srv)))
    await assert_no_stanza(c, is_item_event("team", "nc"), what="notification to an outcast")
    # a second owner, then the first may leave
    expect_result(await ps_owner(a, "<affiliations node='team'><affiliation jid='%s' "
                                 "affiliation='owner'/><affiliation jid='%s' affiliation='none'/>"
                                 "</affiliations>" % (b.boundjid.bare, a.boundjid.bare),
                                 service(srv)))
    expect_error(await ps_owner(a, "<affiliations node='team'/>", service(srv), type="get"),
                 "forbidden")


if __name__ == "__main__":
    run_tests([
        test_own_subscriptions_and_affiliations,
        test_owner_manages_subscriptions,
        test_owner_manages_affiliations,
    ], srv=Server())
