#!/usr/bin/python3
"""85-labels-leak-matrix: the leak matrix of issue 5. For each path by which
content reaches a person - 1:1 online, carbons, offline then login, archive
query, MUC live, MUC history, PEP notification and item retrieval, presence,
an uploaded file (XEP-0363 GET with the user's download token) -
one cleared (SECRET) and one uncleared (UNCLASSIFIED) recipient get the same
SECRET-labelled content. The cleared one must receive it; the uncleared one
must receive nothing of it by any route (every byte its raw streams carried
is searched for the content's token); where the content is refused, the
sender must get the error. The matrix is printed as a table.

The uncleared user also keeps one raw resource online with carbons enabled
through the whole test, a catch-all for any route the rows did not think of."""

import asyncio
import secrets
import xml.etree.ElementTree as ET

import harness
from harness import Server, TestFailure, connect, run_tests, send_iq, wait_stanza
from labels_util import NS_SL, catalog, labelled_message, pick, user
from muc_util import codes, configure, join, new_room
from pep_util import client as pep_client
from pep_util import expect_result, iq as pep_iq, ps_create, ps_subscribe
from pep_util import service as pubsub_service
from roster_peer import C, Peer, is_presence
from upload_util import http, put, request_xml, service, slot

NS_CARBONS = "urn:xmpp:carbons:2"
NS_MAM = "urn:xmpp:mam:2"
NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NODE = "urn:example:labelled:0"

srv = Server()


def tok():
    return "leak-" + secrets.token_hex(5)


def carries(el, token):
    return token in ET.tostring(el, encoding="unicode")


async def raw(bare, pw, res, carbons=True, online=True):
    p = await Peer.login(srv, bare, pw, res)
    if online:
        await p.online()
    if carbons:
        r = await p.iq("<enable xmlns='%s'/>" % NS_CARBONS, type="set")
        if r.get("type") != "result":
            raise TestFailure("carbons enable failed")
    return p


async def got(p, token, timeout=None):
    """Did p receive the token (wait for it)?"""
    try:
        await p.wait(lambda s: carries(s, token), timeout=timeout, what="token " + token)
        return True
    except TestFailure:
        return False


async def nothing(peers, token, wait=0.6):
    """True if none of the raw streams carried the token."""
    await asyncio.sleep(harness.scaled(wait))
    for p in peers:
        if isinstance(p, Peer):
            p.pump(0.05)
            p._feed()
            if any(carries(el, token) for el in p.all):
                return False
        elif any(token in str(s) for s in p.h_stanzas):
            return False
    return True


async def subscribe(a, b):
    """Mutual presence subscription between two raw peers."""
    for x, y in ((a, b), (b, a)):
        x.presence(to=y.bare, type="subscribe")
        await y.wait(lambda s: is_presence(s, frm=x.bare, type="subscribe"), what="subscribe")
        y.presence(to=x.bare, type="subscribed")
        await x.wait(lambda s: is_presence(s, frm=y.bare, type="subscribed"), what="subscribed")
    await asyncio.sleep(harness.scaled(0.3))


def error_for(p, mid):
    return lambda s: s.get("id") == mid and s.get("type") == "error"


async def sender_error(p, mid):
    try:
        await p.wait(error_for(p, mid), what="error for " + mid)
        return True
    except TestFailure:
        return False


class World:
    pass


async def setup():
    w = World()
    w.a, w.apw = user(srv, "alice", "SECRET")
    w.b, w.bpw = user(srv, "bob", "SECRET")
    w.c, w.cpw = user(srv, "carol")
    w.boff, w.boffpw = user(srv, "bobo", "SECRET")
    w.coff, w.coffpw = user(srv, "carolo")
    w.room = new_room(srv, "ops")
    srv.ctl("room", "clearance", w.room, "--classification", "SECRET")
    # room clearances are read at startup
    await asyncio.get_running_loop().run_in_executor(None, srv.restart)
    w.alice = await raw(w.a, w.apw, "desk")
    w.bob1 = await raw(w.b, w.bpw, "one")
    w.bob2 = await raw(w.b, w.bpw, "two")
    w.carol1 = await raw(w.c, w.cpw, "one")
    w.carol2 = await raw(w.c, w.cpw, "two")
    w.catchall = await raw(w.c, w.cpw, "catchall")
    await subscribe(w.alice, w.bob1)
    await subscribe(w.alice, w.carol1)
    sl = await connect(srv, w.a + "/cat", w.apw)
    w.label = pick(await catalog(sl, srv.domain, w.a), "SECRET")
    await harness.disconnect(sl)
    w.carols = [w.carol1, w.carol2, w.catchall]
    w.tokens = []
    return w


# Each row returns (cleared received, uncleared got nothing, sender error or None if n/a).

async def row_one_to_one(w):
    t, mid_b, mid_c = tok(), tok(), tok()
    w.tokens.append(t)
    w.alice.send(labelled_message(w.b + "/one", t, w.label, mid_b))
    w.alice.send(labelled_message(w.c + "/one", t, w.label, mid_c))
    ok = await got(w.bob1, t)
    err = await sender_error(w.alice, mid_c)
    w.t_online = t
    return ok, await nothing(w.carols, t), err


async def row_carbons(w):
    # the copies of the row above for the other resources
    ok = await got(w.bob2, w.t_online)
    return ok, await nothing([w.carol2, w.catchall], w.t_online), None


async def row_offline(w):
    t, mid_b, mid_c = tok(), tok(), tok()
    w.tokens.append(t)
    w.alice.send(labelled_message(w.boff, t, w.label, mid_b))
    w.alice.send(labelled_message(w.coff, t, w.label, mid_c))
    err = await sender_error(w.alice, mid_c)
    await asyncio.sleep(harness.scaled(0.3))
    bo = await raw(w.boff, w.boffpw, "later", carbons=False)
    co = await raw(w.coff, w.coffpw, "later", carbons=False)
    ok = await got(bo, t)
    return ok, await nothing([co], t), err


async def mam_all(p):
    qid = "q" + secrets.token_hex(3)
    r = await p.iq("<query xmlns='%s' queryid='%s'/>" % (NS_MAM, qid), type="set")
    if r.get("type") != "result":
        raise TestFailure("MAM query failed: %s" % ET.tostring(r))
    return r


async def row_archive(w):
    await mam_all(w.bob1)
    ok = any(carries(el, w.t_online) and el.find("{%s}result" % NS_MAM) is not None
             for el in w.bob1.all)
    await mam_all(w.carol1)
    return ok, await nothing(w.carols, w.t_online), None


async def row_muc_live(w):
    t = tok()
    w.tokens.append(t)
    st = await join(w.bob1, w.room, "bob")
    if st.get("type") == "error":
        raise TestFailure("the cleared user could not enter the SECRET room: %s" % ET.tostring(st))
    if 201 in codes(st):
        await configure(w.bob1, w.room)
    await join(w.carol1, w.room, "carol")  # refused or filtered: either way nothing may leak
    st = await join(w.alice, w.room, "alice")
    if st.get("type") == "error":
        raise TestFailure("the cleared sender could not enter the room: %s" % ET.tostring(st))
    mid = tok()
    w.alice.send("<message to='%s' type='groupchat' id='%s'><body>%s</body>%s</message>"
                 % (w.room, mid, t, w.label))
    ok = await got(w.bob1, t)
    w.t_muc = t
    return ok, await nothing(w.carols, t), None


async def row_muc_history(w):
    bob_h = await raw(w.b, w.bpw, "hist", carbons=False)
    carol_h = await raw(w.c, w.cpw, "hist", carbons=False)
    await join(bob_h, w.room, "bob-h")
    await join(carol_h, w.room, "carol-h")
    ok = await got(bob_h, w.t_muc)
    w.carols.append(carol_h)
    return ok, await nothing([carol_h], w.t_muc), None


async def row_pep(w):
    t = tok()
    w.tokens.append(t)
    bob_p = await pep_client(srv, w.b, w.bpw, "pep", notify=[NODE])
    carol_p = await pep_client(srv, w.c, w.cpw, "pep", notify=[NODE])
    w.carols.append(carol_p)
    # the label inside the item's one payload element (PEP takes exactly one)
    r = await send_iq(w.pep_alice, "<pubsub xmlns='%s'><publish node='%s'><item id='i1'>"
                      "<entry xmlns='%s'><title>%s</title>%s</entry></item></publish></pubsub>"
                      % (NS_PUBSUB, NODE, NODE, t, w.label), type="set")
    if r["type"] != "result":
        raise TestFailure("publish failed: %s" % r)
    try:
        await wait_stanza(bob_p, lambda s: t in str(s))
        ok = True
    except TestFailure:
        ok = False
    # explicit retrieval too: the uncleared requester gets a result with the
    # item left out (XEP-0314), never the item
    r = await send_iq(carol_p, "<pubsub xmlns='%s'><items node='%s'/></pubsub>" % (NS_PUBSUB, NODE),
                      to=w.a)
    if r["type"] != "result" or "i1" in str(r):
        raise TestFailure("items request: want a result without the item: %s" % r)
    r = await send_iq(bob_p, "<pubsub xmlns='%s'><items node='%s'/></pubsub>" % (NS_PUBSUB, NODE),
                      to=w.a)
    if r["type"] != "result" or t not in str(r):
        ok = False
    return ok, await nothing([carol_p], t), None


async def row_pubsub_0314(w):
    # XEP-0314: the label in <publish/> labels the item; notifications carry
    # it on the message, retrievals list it beside the items, and retracts
    # reach only the cleared
    # the item id is unguessable too: any stanza naming it is a leak
    t, node, iid = tok(), "feed-" + secrets.token_hex(3), "item-" + secrets.token_hex(6)
    w.tokens.append(t)
    svc = pubsub_service(srv)
    alice = await connect(srv, w.a + "/ps", w.apw)
    bob = await connect(srv, w.b + "/ps", w.bpw)
    carol = await connect(srv, w.c + "/ps", w.cpw)
    w.carols.append(carol)
    expect_result(await ps_create(alice, node, {"pubsub#access_model": "open"}, to=svc))
    for c in (bob, carol):
        expect_result(await ps_subscribe(c, node, svc))
    pub = ("<pubsub xmlns='%s'><publish node='%s'><item id='%s'><entry xmlns='urn:example:e'>"
           "<title>%s</title></entry></item>%s</publish></pubsub>" % (NS_PUBSUB, node, iid, t, w.label))
    expect_result(await pep_iq(alice, pub, to=svc))
    try:
        got = await wait_stanza(bob, lambda s: t in str(s))
        ok = got.xml.find("{%s}securitylabel" % NS_SL) is not None
    except TestFailure:
        ok = False
    r = await pep_iq(bob, "<pubsub xmlns='%s'><items node='%s'/></pubsub>" % (NS_PUBSUB, node),
                     type="get", to=svc)
    items_el = r.xml.find("{%s}pubsub/{%s}items" % (NS_PUBSUB, NS_PUBSUB))
    ok = ok and r["type"] == "result" and t in str(r) and items_el is not None and \
        items_el.find("{%s}securitylabel" % NS_SL) is not None
    r = await pep_iq(carol, "<pubsub xmlns='%s'><items node='%s'/></pubsub>" % (NS_PUBSUB, node),
                     type="get", to=svc)
    clean = r["type"] == "result" and iid not in str(r) and t not in str(r)
    expect_result(await pep_iq(alice, "<pubsub xmlns='%s'><retract node='%s' notify='1'>"
                                      "<item id='%s'/></retract></pubsub>" % (NS_PUBSUB, node, iid),
                               to=svc))
    try:
        await wait_stanza(bob, lambda s: "retract" in str(s) and iid in str(s))
    except TestFailure:
        ok = False
    await asyncio.sleep(0.3)
    leaked = [str(s)[:300] for s in carol.h_stanzas if iid in str(s)]
    if leaked or not clean:
        print("# pubsub row: items answer clean=%s; stanzas naming the item: %s" % (clean, leaked))
    clean = clean and not leaked
    return ok, clean and await nothing([carol], t), None


async def row_presence(w):
    t = tok()
    w.tokens.append(t)
    w.alice.send("<presence id='%s'><status>%s</status>%s</presence>" % (t, t, w.label))
    ok = await got(w.bob1, t)
    err = await sender_error(w.alice, t)
    return ok, await nothing(w.carols, t), err


async def download_token(p):
    r = await p.iq("<token xmlns='urn:aldis:upload:auth:0'/>", to=service(srv))
    t = r.find("{urn:aldis:upload:auth:0}token")
    if r.get("type") != "result" or t is None:
        raise TestFailure("no download token: %s" % ET.tostring(r))
    return t.text


async def row_upload(w):
    # alice uploads a SECRET file and shares its URL in SECRET messages:
    # bob gets the message and the file with his token; carol gets neither
    # the message (alice gets the error) nor, with the URL from elsewhere,
    # the file: 403 with her token, 401 without one.
    t, mid_b, mid_c = tok(), tok(), tok()
    w.tokens.append(t)
    req = request_xml("brief.txt", len(t), "text/plain").replace(
        "/>", ">%s</request>" % w.label, 1)
    put_url, get_url = slot(await w.alice.iq(req, to=service(srv)))
    if put(put_url, t.encode(), "text/plain")[0] != 201:
        raise TestFailure("PUT of the labelled file failed")
    w.alice.send(labelled_message(w.b + "/one", t + " " + get_url, w.label, mid_b))
    w.alice.send(labelled_message(w.c + "/one", t + " " + get_url, w.label, mid_c))
    err = await sender_error(w.alice, mid_c)
    loop = asyncio.get_running_loop()
    bob_tok, carol_tok = await download_token(w.bob1), await download_token(w.carol1)
    b = await loop.run_in_executor(None, lambda: http(get_url, headers={
        "Authorization": "Bearer " + bob_tok}))
    c = await loop.run_in_executor(None, lambda: http(get_url, headers={
        "Authorization": "Bearer " + carol_tok}))
    anon = await loop.run_in_executor(None, lambda: http(get_url))
    ok = await got(w.bob1, t) and b[0] == 200 and b[2] == t.encode()
    clean = c[0] == 403 and anon[0] == 401 and t.encode() not in c[2] + anon[2]
    return ok, clean and await nothing(w.carols, t), err


ROWS = [("1:1 online", row_one_to_one), ("carbons", row_carbons),
        ("offline then login", row_offline), ("MAM query", row_archive),
        ("MUC live", row_muc_live), ("MUC history", row_muc_history),
        ("PEP notification/items", row_pep),
        ("PubSub XEP-0314 label", row_pubsub_0314), ("presence", row_presence),
        ("HTTP upload (GET)", row_upload)]


def mark(v):
    return "n/a" if v is None else ("yes" if v else "NO")


async def test_leak_matrix(srv):
    w = await setup()
    w.pep_alice = await pep_client(srv, w.a, w.apw, "pep", notify=[NODE])
    carol_f = await connect(srv, w.c + "/friend", w.cpw)
    w.carols.append(carol_f)
    results = []
    for name, fn in ROWS:
        try:
            results.append((name,) + tuple(await fn(w)))
        except TestFailure as e:
            results.append((name, False, False, False))
            print("# %s: %s" % (name, str(e).splitlines()[0]))
    # the catch-all and every uncleared stream, for every token of every row
    clean_overall = all([await nothing(w.carols, t, wait=0.1) for t in w.tokens])
    lines = ["# %-24s | %-16s | %-24s | %s" % ("path", "cleared receives",
                                                "uncleared receives none", "sender error")]
    lines.append("# " + "-" * 84)
    for name, ok, clean, err in results:
        lines.append("# %-24s | %-16s | %-24s | %s" % (name, mark(ok), mark(clean), mark(err)))
    lines.append("# uncleared user, all streams, all rows: %s" % ("clean" if clean_overall else "LEAK"))
    print("\n".join(lines))
    bad = [r[0] for r in results if not r[1] or not r[2] or r[3] is False]
    if bad or not clean_overall:
        raise TestFailure("leak matrix failed for: %s" % (", ".join(bad) or "the catch-all"))


if __name__ == "__main__":
    run_tests([test_leak_matrix], srv)
