#!/usr/bin/python3
"""30-pubsub-nodes: the XEP-0060 service on pubsub.DOMAIN (mod_pubsub):
service discovery, node creation (named, instant, configured), the
configuration form, node meta-data in disco#info, delete with a redirect,
purge, and everything surviving a restart."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, run_tests, wait_stanza  # noqa: E402
from pep_util import (DATA, EVENT, INFO, ITEMS, OWNER, PUBSUB, event_of,  # noqa: E402
                      expect_error, expect_result, form, form_values, iq, items, ps_create,
                      ps_owner, ps_subscribe, ps_user, publish, published_id, result_items,
                      service, subscription_of)

NS = "urn:example:news"


def entry(text):
    return "<entry xmlns='%s'>%s</entry>" % (NS, text)


async def test_service_disco(srv):
    a = await ps_user(srv, "alice")
    r = expect_result(await iq(a, "<query xmlns='%s'/>" % INFO, type="get", to=service(srv)))
    ids = [(i.get("category"), i.get("type")) for i in r.xml.iter("{%s}identity" % INFO)]
    feats = [f.get("var") for f in r.xml.iter("{%s}feature" % INFO)]
    if ("pubsub", "service") not in ids:
        raise TestFailure("identity: %s" % ids)
    for f in (PUBSUB, PUBSUB + "#create-nodes", PUBSUB + "#publish", PUBSUB + "#subscribe",
              PUBSUB + "#instant-nodes", PUBSUB + "#manage-affiliations",
              PUBSUB + "#publish-options", PUBSUB + "#access-whitelist"):
        if f not in feats:
            raise TestFailure("feature %s missing: %s" % (f, feats))
    # the host lists the service (XEP-0030 items of the domain)
    r = expect_result(await iq(a, "<query xmlns='%s'/>" % ITEMS, type="get", to=srv.domain))
    jids = [i.get("jid") for i in r.xml.iter("{%s}item" % ITEMS)]
    if service(srv) not in jids:
        raise TestFailure("host items: %s" % jids)


async def test_create_named_and_instant(srv):
    a = await ps_user(srv, "alice")
    expect_result(await ps_create(a, "named1", to=service(srv)))
    expect_error(await ps_create(a, "named1", to=service(srv)), "conflict")
    r = expect_result(await ps_create(a, None, to=service(srv)))
    c = r.xml.find("{%s}pubsub/{%s}create" % (PUBSUB, PUBSUB))
    if c is None or not c.get("node"):
        raise TestFailure("instant node not named: %s" % r)
    r = expect_result(await iq(a, "<query xmlns='%s'/>" % ITEMS, type="get", to=service(srv)))
    nodes = [i.get("node") for i in r.xml.iter("{%s}item" % ITEMS)]
    if "named1" not in nodes or c.get("node") not in nodes:
        raise TestFailure("disco#items: %s" % nodes)
    # the owner's affiliation is listed
    r = expect_result(await iq(a, "<pubsub xmlns='%s'><affiliations/></pubsub>" % PUBSUB,
                               type="get", to=service(srv)))
    affs = {x.get("node"): x.get("affiliation") for x in r.xml.iter("{%s}affiliation" % PUBSUB)}
    if affs.get("named1") != "owner":
        raise TestFailure("affiliations: %s" % affs)


async def test_create_configured_and_meta_data(srv):
    a = await ps_user(srv, "alice")
    expect_result(await ps_create(a, "conf1", to=service(srv),
                                  config={"pubsub#title": "Princely Musings",
                                          "pubsub#max_items": "5"}))
    r = expect_result(await ps_owner(a, "<configure node='conf1'/>", service(srv), type="get"))
    x = r.xml.find("{%s}pubsub/{%s}configure/{%s}x" % (OWNER, OWNER, DATA))
    vals = form_values(x)
    if vals.get("pubsub#title") != ["Princely Musings"] or vals.get("pubsub#max_items") != ["5"]:
        raise TestFailure("configure form: %s" % vals)
    expect_result(await ps_owner(a, "<configure node='conf1'>%s</configure>"
                                 % form(PUBSUB + "#node_config", {"pubsub#title": "Renamed"}),
                                 service(srv)))
    expect_error(await ps_owner(a, "<configure node='conf1'>%s</configure>"
                                % form(PUBSUB + "#node_config",
                                       {"pubsub#access_model": "nonsense"}), service(srv)),
                 "not-acceptable")
    published_id(await publish(a, "conf1", entry("one"), to=service(srv)))
    r = expect_result(await iq(a, "<query xmlns='%s' node='conf1'/>" % INFO, type="get",
                               to=service(srv)))
    ids = [(i.get("category"), i.get("type")) for i in r.xml.iter("{%s}identity" % INFO)]
    if ("pubsub", "leaf") not in ids:
        raise TestFailure("node identity: %s" % ids)
    meta = form_values(r.xml.find("{%s}query/{%s}x" % (INFO, DATA)))
    if (meta.get("FORM_TYPE") != [PUBSUB + "#meta-data"] or
            meta.get("pubsub#title") != ["Renamed"] or
            meta.get("pubsub#owner") != [a.boundjid.bare] or
            meta.get("pubsub#type") != [NS] or not meta.get("pubsub#creation_date")):
        raise TestFailure("meta-data: %s" % meta)
    # items of the node in disco
    r = expect_result(await iq(a, "<query xmlns='%s' node='conf1'/>" % ITEMS, type="get",
                               to=service(srv)))
    if len(list(r.xml.iter("{%s}item" % ITEMS))) != 1:
        raise TestFailure("node disco#items: %s" % r)
    # others may not configure
    b = await ps_user(srv, "bob")
    expect_error(await ps_owner(b, "<configure node='conf1'/>", service(srv), type="get"),
                 "forbidden")
    expect_error(await iq(b, "<query xmlns='%s' node='nope'/>" % INFO, type="get",
                          to=service(srv)), "item-not-found")


async def test_delete_with_redirect(srv):
    a = await ps_user(srv, "alice")
    b = await ps_user(srv, "bob")
    expect_result(await ps_create(a, "old", to=service(srv)))
    subscription_of(await ps_subscribe(b, "old", service(srv)))
    expect_error(await ps_owner(b, "<delete node='old'/>", service(srv)), "forbidden")
    expect_result(await ps_owner(a, "<delete node='old'><redirect uri='xmpp:%s?;node=new'/>"
                                 "</delete>" % service(srv), service(srv)))

    def is_delete(st):
        el = event_of(st, "old")
        return el is not None and el.tag == "{%s}delete" % EVENT
    ev = await wait_stanza(b, is_delete)
    red = event_of(ev, "old").find("{%s}redirect" % EVENT)
    if red is None or not red.get("uri", "").endswith("node=new"):
        raise TestFailure("no redirect: %s" % ev)
    if ev["from"] != service(srv):
        raise TestFailure("from: %s" % ev["from"])
    expect_error(await items(a, service(srv), "old"), "item-not-found")


async def test_purge(srv):
    a = await ps_user(srv, "alice")
    b = await ps_user(srv, "bob")
    expect_result(await ps_create(a, "purgeme", to=service(srv)))
    subscription_of(await ps_subscribe(b, "purgeme", service(srv)))
    published_id(await publish(a, "purgeme", entry("x"), to=service(srv)))
    expect_result(await ps_owner(a, "<purge node='purgeme'/>", service(srv)))
    await wait_stanza(b, lambda st: event_of(st, "purgeme") is not None and
                      event_of(st, "purgeme").tag == "{%s}purge" % EVENT)
    if result_items(await items(a, service(srv), "purgeme")):
        raise TestFailure("items left after purge")


async def test_persistence_across_restart(srv):
    a = await ps_user(srv, "alice")
    b = await ps_user(srv, "bob")
    expect_result(await ps_create(a, "durable", to=service(srv),
                                  config={"pubsub#title": "Kept", "pubsub#max_items": "3"}))
    sub = subscription_of(await ps_subscribe(b, "durable", service(srv)))
    for i in range(4):
        published_id(await publish(a, "durable", entry(str(i)), id="i%d" % i, to=service(srv)))
    srv.stop()
    srv.start()
    a = await harness_connect(srv, a)
    b = await harness_connect(srv, b)
    got = [i for i, _ in result_items(await items(a, service(srv), "durable"))]
    if got != ["i1", "i2", "i3"]:
        raise TestFailure("items after restart: %s" % got)
    r = expect_result(await ps_owner(a, "<subscriptions node='durable'/>", service(srv),
                                     type="get"))
    subs = [(s.get("jid"), s.get("subid")) for s in r.xml.iter("{%s}subscription" % OWNER)]
    if subs != [(b.boundjid.bare, sub.get("subid"))]:
        raise TestFailure("subscriptions after restart: %s" % subs)
    id = published_id(await publish(a, "durable", entry("after"), to=service(srv)))
    await wait_stanza(b, lambda st: event_of(st, "durable") is not None and
                      any(i.get("id") == id for i in event_of(st, "durable")))
    r = expect_result(await ps_owner(a, "<configure node='durable'/>", service(srv),
                                     type="get"))
    vals = form_values(r.xml.find("{%s}pubsub/{%s}configure/{%s}x" % (OWNER, OWNER, DATA)))
    if vals.get("pubsub#title") != ["Kept"]:
        raise TestFailure("config after restart: %s" % vals)


async def harness_connect(srv, old):
    from harness import connect
    c = await connect(srv, old.boundjid.bare + "/again", old.h_password)
    c.h_password = old.h_password
    return c


if __name__ == "__main__":
    run_tests([
        test_service_disco,
        test_create_named_and_instant,
        test_create_configured_and_meta_data,
        test_delete_with_redirect,
        test_purge,
        test_persistence_across_restart,
    ], srv=Server())
