#!/usr/bin/python3
"""81-labels-catalog: XEP-0258 catalog discovery answered by the server for
the target named in the request's 'to' (a user or a room): the features in
disco#info, only labels both the target and the requester may handle
(issue 5: a user is never offered a label the target cannot receive), the
default item, 'size', a bad request, and every label the catalog offers is
accepted when used towards that target (so ESS labels produced by Aldis
round-trip through Aldis)."""

import secrets

from harness import Server, TestFailure, connect, run_tests, send_iq, wait_stanza
from labels_util import NS_CAT, catalog, labelled_message, user, xml_string

srv = Server()


def markings(items):
    return [m for _, m, _ in items]


async def test_disco_features(srv):
    a, apw = user(srv, "alice")
    alice = await connect(srv, a + "/desk", apw)
    r = await send_iq(alice, "<query xmlns='http://jabber.org/protocol/disco#info'/>", to=srv.domain)
    feats = {f.get("var") for f in r.xml.iter("{http://jabber.org/protocol/disco#info}feature")}
    for f in ("urn:xmpp:sec-label:0", "urn:xmpp:sec-label:catalog:2"):
        if f not in feats:
            raise TestFailure("disco#info of the domain lacks %s: %s" % (f, sorted(feats)))


async def test_catalog_of_cleared_user(srv):
    a, apw = user(srv, "alice", "SECRET", ["Releasable To=GBR", "Releasable To=USA"])
    alice = await connect(srv, a + "/desk", apw)
    r = await send_iq(alice, "<catalog xmlns='%s' to='%s'/>" % (NS_CAT, a), to=srv.domain)
    cat = r.xml.find("{%s}catalog" % NS_CAT)
    items = await catalog(alice, srv.domain, a)
    m = markings(items)
    if cat.get("to") != a or int(cat.get("size", "-1")) != len(items):
        raise TestFailure("catalog to=%s size=%s for %d items" % (cat.get("to"), cat.get("size"),
                                                                 len(items)))
    for want in ("UNCLASSIFIED", "SECRET"):
        if want not in m:
            raise TestFailure("catalog lacks %s: %s" % (want, m))
    if not any("SECRET" in x and "GBR" in x for x in m):
        raise TestFailure("catalog lacks a SECRET releasable-to-GBR label: %s" % m)
    for x in m:
        if "TOP SECRET" in x or "FRA" in x or "DEU" in x:
            raise TestFailure("catalog offers %r, beyond the clearance" % x)
    defaults = [it for it in cat.findall("{%s}item" % NS_CAT) if it.get("default") == "true"]
    if len(defaults) != 1:
        raise TestFailure("expected exactly one default item, got %d" % len(defaults))


async def test_catalog_is_the_intersection(srv):
    a, apw = user(srv, "alice", "SECRET")
    c, cpw = user(srv, "carol")  # UNCLASSIFIED only
    alice = await connect(srv, a + "/desk", apw)
    carol = await connect(srv, c + "/desk", cpw)
    for asker, target, who in ((alice, c, "an UNCLASSIFIED target"),
                               (carol, a, "an UNCLASSIFIED requester")):
        m = markings(await catalog(asker, srv.domain, target))
        if not m or any(not x.startswith("UNCLASSIFIED") for x in m):
            raise TestFailure("catalog with %s offers %s" % (who, m))


async def test_catalog_of_room(srv):
    a, apw = user(srv, "alice", "TOP SECRET")
    room = "ops-%s@conference.%s" % (secrets.token_hex(3), srv.domain)
    srv.ctl("room", "clearance", room, "--classification", "CONFIDENTIAL")
    alice = await connect(srv, a + "/desk", apw)
    m = markings(await catalog(alice, srv.domain, room))
    if "CONFIDENTIAL" not in m or any("SECRET" in x for x in m):
        raise TestFailure("catalog of a CONFIDENTIAL room offers %s" % m)


async def test_bad_request_without_target(srv):
    a, apw = user(srv, "alice")
    alice = await connect(srv, a + "/desk", apw)
    r = await send_iq(alice, "<catalog xmlns='%s'/>" % NS_CAT, to=srv.domain)
    if r["type"] != "error" or r["error"]["condition"] != "bad-request":
        raise TestFailure("expected bad-request for a catalog without 'to', got %s" % r)


async def test_every_offered_label_is_accepted(srv):
    a, apw = user(srv, "alice", "SECRET", ["Releasable To=GBR"])
    b, bpw = user(srv, "bob", "SECRET", ["Releasable To=GBR", "Special Handling=KESTREL"])
    alice = await connect(srv, a + "/desk", apw)
    bob = await connect(srv, b + "/desk", bpw)
    items = await catalog(alice, srv.domain, b)
    if len(items) < 4:
        raise TestFailure("suspiciously small catalog: %s" % markings(items))
    for sel, marking, sl in items:
        body, mid = "c-" + secrets.token_hex(4), "i-" + secrets.token_hex(4)
        alice.send_raw(labelled_message(b, body, xml_string(sl), mid))
        got = await wait_stanza(bob, lambda s: s.name == "message" and s["body"] == body)
        dm = got.xml.find("{urn:xmpp:sec-label:0}securitylabel/{urn:xmpp:sec-label:0}displaymarking")
        if dm is None or dm.text != marking:
            raise TestFailure("label %r arrived as %r" % (marking, dm.text if dm is not None else None))


async def test_catalog_of_pubsub_node(srv):
    # XEP-0314 §4.1: the PubSub service advertises labels and answers
    # catalogs for itself and its nodes (bounded by the requester)
    a, apw = user(srv, "alice", "SECRET")
    alice = await connect(srv, a + "/desk", apw)
    svc = "pubsub." + srv.domain
    r = await send_iq(alice, "<query xmlns='http://jabber.org/protocol/disco#info'/>", to=svc)
    feats = {f.get("var") for f in r.xml.iter("{http://jabber.org/protocol/disco#info}feature")}
    for want in ("urn:xmpp:sec-label:0", NS_CAT):
        if want not in feats:
            raise TestFailure("pubsub service lacks %s" % want)
    node = "n-" + secrets.token_hex(3)
    r = await send_iq(alice, "<pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='%s'/>"
                             "</pubsub>" % node, type="set", to=svc)
    if r["type"] != "result":
        raise TestFailure("create: %s" % r)
    r = await send_iq(alice, "<catalog xmlns='%s' to='%s' node='%s'/>" % (NS_CAT, svc, node), to=svc)
    cat = r.xml.find("{%s}catalog" % NS_CAT)
    if r["type"] != "result" or cat is None or cat.get("node") != node or cat.get("to") != svc:
        raise TestFailure("node catalog: %s" % r)
    m = [dm.text for dm in cat.iter("{urn:xmpp:sec-label:0}displaymarking")]
    if "SECRET" not in m or any("TOP SECRET" in x for x in m):
        raise TestFailure("node catalog for a SECRET user offers %s" % m)
    r = await send_iq(alice, "<catalog xmlns='%s' to='%s' node='nope'/>" % (NS_CAT, svc), to=svc)
    if r["type"] != "error" or r["error"]["condition"] != "item-not-found":
        raise TestFailure("catalog of an unknown node: %s" % r)


if __name__ == "__main__":
    run_tests([test_disco_features, test_catalog_of_cleared_user, test_catalog_is_the_intersection,
               test_catalog_of_room, test_bad_request_without_target,
               test_every_offered_label_is_accepted, test_catalog_of_pubsub_node], srv)
