#!/usr/bin/python3
"""32-pubsub-access: the access models of the pubsub.DOMAIN service
(XEP-0060 §4.5): open, presence (subscribers to an owner's presence),
roster (in an allowed roster group of an owner), whitelist (affiliates
only), authorize (pending subscriptions an owner approves or denies,
§8.6) and outcasts, for subscribe and items, and nodes hidden from disco."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, assert_no_stanza, run_tests, wait_stanza  # noqa: E402
from pep_util import (DATA, EVENT, ITEMS, befriend, event_of, expect_error,  # noqa: E402
                      expect_result, form_values, iq, is_item_event, items, ps_create, ps_owner, ps_subscribe, ps_user, publish, published_id,
                      result_items, service, subscription_of)

NS = "urn:example:news"


def entry(text):
    return "<entry xmlns='%s'>%s</entry>" % (NS, text)


async def test_open(srv):
    a = await ps_user(srv, "alice")
    b = await ps_user(srv, "bob")
    expect_result(await ps_create(a, "public", to=service(srv)))
    published_id(await publish(a, "public", entry("hi"), to=service(srv)))
    subscription_of(await ps_subscribe(b, "public", service(srv)))
    if len(result_items(await items(b, service(srv), "public"))) != 1:
        raise TestFailure("open node items not readable")


async def test_presence(srv):
    a = await ps_user(srv, "alice")
    b = await ps_user(srv, "bob")
    c = await ps_user(srv, "carol")
    expect_result(await ps_create(a, "friends", to=service(srv),
                                  config={"pubsub#access_model": "presence"}))
    published_id(await publish(a, "friends", entry("for friends"), to=service(srv)))
    expect_error(await ps_subscribe(c, "friends", service(srv)), "not-authorized",
                 "presence-subscription-required")
    expect_error(await items(c, service(srv), "friends"), "not-authorized",
                 "presence-subscription-required")
    await befriend(a, b)
    subscription_of(await ps_subscribe(b, "friends", service(srv)))
    if len(result_items(await items(b, service(srv), "friends"))) != 1:
        raise TestFailure("presence node items not readable by a contact")


async def test_roster_groups(srv):
    a = await ps_user(srv, "alice")
    b = await ps_user(srv, "bob")
    c = await ps_user(srv, "carol")
    await befriend(a, b)
    await befriend(a, c)
    expect_result(await iq(a, "<query xmlns='jabber:iq:roster'><item jid='%s'><group>Team"
                           "</group></item></query>" % b.boundjid.bare))
    expect_result(await ps_create(a, "team", to=service(srv),
                                  config={"pubsub#access_model": "roster",
                                          "pubsub#roster_groups_allowed": "Team"}))
    subscription_of(await ps_subscribe(b, "team", service(srv)))
    expect_error(await ps_subscribe(c, "team", service(srv)), "not-authorized",
                 "not-in-roster-group")


async def test_whitelist_and_outcast(srv):
    a = await ps_user(srv, "alice")
    b = await ps_user(srv, "bob")
    c = await ps_user(srv, "carol")
    expect_result(await ps_create(a, "secret", to=service(srv),
                                  config={"pubsub#access_model": "whitelist"}))
    expect_error(await ps_subscribe(b, "secret", service(srv)), "not-allowed", "closed-node")
    expect_error(await items(b, service(srv), "secret"), "not-allowed", "closed-node")
    r = expect_result(await iq(b, "<query xmlns='%s'/>" % ITEMS, type="get", to=service(srv)))
    if "secret" in [i.get("node") for i in r.xml.iter("{%s}item" % ITEMS)]:
        raise TestFailure("whitelist node listed to a stranger")
    expect_result(await ps_owner(a, "<affiliations node='secret'><affiliation jid='%s' "
                                 "affiliation='member'/></affiliations>" % b.boundjid.bare,
                                 service(srv)))
    subscription_of(await ps_subscribe(b, "secret", service(srv)))
    # an outcast is refused even on an open node
    expect_result(await ps_create(a, "pub2", to=service(srv)))
    expect_result(await ps_owner(a, "<affiliations node='pub2'><affiliation jid='%s' "
                                 "affiliation='outcast'/></affiliations>" % c.boundjid.bare,
                                 service(srv)))
    expect_error(await ps_subscribe(c, "pub2", service(srv)), "forbidden")
    expect_error(await items(c, service(srv), "pub2"), "forbidden")


def auth_request(node):
    def pred(st):
        x = st.xml.find("{%s}x" % DATA) if st.name == "message" else None
        return x is not None and form_values(x).get("pubsub#node") == [node]
    return pred


def answer(owner, srv, request, allow):
    vals = form_values(request.xml.find("{%s}x" % DATA))
    fields = "".join("<field var='%s'><value>%s</value></field>" % (v, vals[v][0])
                     for v in ("FORM_TYPE", "pubsub#subid", "pubsub#node",
                               "pubsub#subscriber_jid"))
    owner.send_raw("<message to='%s'><x xmlns='%s' type='submit'>%s<field var='pubsub#allow'>"
                   "<value>%s</value></field></x></message>"
                   % (service(srv), DATA, fields, "true" if allow else "false"))


def subscription_event(node, state):
    def pred(st):
        el = event_of(st, node)
        return (el is not None and el.tag == "{%s}subscription" % EVENT and
                el.get("subscription") == state)
    return pred


async def test_authorize(srv):
    a = await ps_user(srv, "alice")
    b = await ps_user(srv, "bob")
    c = await ps_user(srv, "carol")
    expect_result(await ps_create(a, "club", to=service(srv),
                                  config={"pubsub#access_model": "authorize"}))
    sub = subscription_of(await ps_subscribe(b, "club", service(srv)))
    if sub.get("subscription") != "pending":
        raise TestFailure("not pending: %s" % sub.attrib)
    req = await wait_stanza(a, auth_request("club"))
    vals = form_values(req.xml.find("{%s}x" % DATA))
    if vals.get("pubsub#subscriber_jid") != [b.boundjid.bare] or \
            vals.get("pubsub#subid") != [sub.get("subid")]:
        raise TestFailure("authorization form: %s" % vals)
    expect_error(await items(b, service(srv), "club"), "not-authorized", "not-subscribed")
    published_id(await publish(a, "club", entry("members only"), id="early", to=service(srv)))
    await assert_no_stanza(b, is_item_event("club", "early"), wait=0.3,
                           what="notification to a pending subscriber")
    # bob cannot approve himself
    answer(b, srv, req, True)
    await assert_no_stanza(b, subscription_event("club", "subscribed"), wait=0.3,
                           what="approval by a non-owner")
    answer(a, srv, req, True)
    await wait_stanza(b, subscription_event("club", "subscribed"))
    await wait_stanza(b, is_item_event("club", "early"))  # the last item follows
    if len(result_items(await items(b, service(srv), "club"))) != 1:
        raise TestFailure("approved subscriber cannot read items")
    # carol is denied
    sub = subscription_of(await ps_subscribe(c, "club", service(srv)))
    req = await wait_stanza(a, lambda st: auth_request("club")(st) and form_values(
        st.xml.find("{%s}x" % DATA)).get("pubsub#subscriber_jid") == [c.boundjid.bare])
    answer(a, srv, req, False)
    await wait_stanza(c, subscription_event("club", "none"))
    r = expect_result(await ps_owner(a, "<subscriptions node='club'/>", service(srv),
                                     type="get"))
    if [s.get("jid") for s in r.xml.iter("{http://jabber.org/protocol/pubsub#owner}"
                                         "subscription")] != [b.boundjid.bare]:
        raise TestFailure("subscriptions after approval and denial: %s" % r)


if __name__ == "__main__":
    run_tests([
        test_open,
        test_presence,
        test_roster_groups,
        test_whitelist_and_outcast,
        test_authorize,
    ], srv=Server())
