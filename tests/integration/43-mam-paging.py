#!/usr/bin/python3
"""43-mam-paging: XEP-0313 §4.3 paging with XEP-0059 over a 600-message
archive (500 with one contact, 100 with another): forward with <after/> and
backward from the last page with <before/>, max=50, both over the whole
archive and one conversation, with no gap and no duplicate, the 'complete'
flag only on the final page, <count/> and first 'index', <flip-page/>,
<index/>, the page cap, paging while new messages arrive, and slixmpp's own
XEP-0313/XEP-0059 iterator as a real client uses it."""

import asyncio
import secrets

import harness
from harness import Server, TestFailure, connect, run_tests, wait_stanza

NS_MAM = "urn:xmpp:mam:2"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_FWD = "urn:xmpp:forward:0"
NS_CLIENT = "jabber:client"
N_BOB = 500
N_CAROL = 100
PAGE = 50
PAGE_MAX = 120  # mam.page_max for this server


def body_of(stanza):
    r = stanza.xml.find("{%s}result" % NS_MAM)
    m = r.find("{%s}forwarded/{%s}message" % (NS_FWD, NS_CLIENT))
    b = m.find("{%s}body" % NS_CLIENT)
    return r.get("id"), b.text if b is not None else None


async def query(c, with_jid=None, max=None, after=None, before=None, index=None, flip=False):
    """One page: returns (ids, bodies, fin attributes dict)."""
    qid = "q" + secrets.token_hex(4)
    iqid = "i" + secrets.token_hex(4)
    x = ""
    if with_jid:
        x = ("<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
             "<value>%s</value></field><field var='with'><value>%s</value></field></x>"
             % (NS_MAM, with_jid))
    s = ""
    if max is not None:
        s += "<max>%d</max>" % max
    if after is not None:
        s += "<after>%s</after>" % after
    if before is not None:
        s += "<before>%s</before>" % before if before else "<before/>"
    if index is not None:
        s += "<index>%d</index>" % index
    rsm = "<set xmlns='%s'>%s</set>" % (NS_RSM, s) if s else ""
    c.send_raw("<iq type='set' id='%s'><query xmlns='%s' queryid='%s'>%s%s%s</query></iq>"
               % (iqid, NS_MAM, qid, x, rsm, "<flip-page/>" if flip else ""))
    reply = await wait_stanza(c, lambda st: st.name == "iq" and st["id"] == iqid,
                              timeout=harness.scaled(15))
    if reply["type"] != "result":
        raise TestFailure("query failed: %s" % reply)
    results = []
    for st in c.h_stanzas:
        if st.name != "message":
            continue
        r = st.xml.find("{%s}result" % NS_MAM)
        if r is not None and r.get("queryid") == qid:
            results.append(body_of(st))
    # drop what we read so the client's buffers stay small
    c.h_unconsumed[:] = [st for st in c.h_unconsumed if st.name != "message"]
    c.h_stanzas[:] = []
    fin = reply.xml.find("{%s}fin" % NS_MAM)
    rs = fin.find("{%s}set" % NS_RSM)
    get = lambda n: rs.find("{%s}%s" % (NS_RSM, n))
    info = {
        "complete": fin.get("complete") in ("true", "1"),
        "first": get("first").text if get("first") is not None else None,
        "index": (int(get("first").get("index")) if get("first") is not None
                  and get("first").get("index") is not None else None),
        "last": get("last").text if get("last") is not None else None,
        "count": int(get("count").text) if get("count") is not None else None,
    }
    return [i for i, _ in results], [b for _, b in results], info


async def online(srv, jid, password, **kw):
    c = await connect(srv, jid, password, **kw)
    await wait_stanza(c, lambda s: s.name == "presence" and s["from"].full == c.boundjid.full)
    return c


SETUP = {}


async def setup(srv):
    """Once per file: alice with 500 messages to bob and 100 from carol,
    interleaved (carol's after every 5th of alice's)."""
    if SETUP:
        return SETUP
    a_bare, a_pw = srv.new_user("alice")
    b_bare, b_pw = srv.new_user("bob")
    c_bare, c_pw = srv.new_user("carol")
    a = await online(srv, a_bare + "/desk", a_pw)
    b = await online(srv, b_bare + "/phone", b_pw)
    c = await online(srv, c_bare + "/tab", c_pw)
    order = []
    for i in range(N_BOB):
        text = "b%03d" % i
        a.send_raw("<message to='%s' type='chat'><body>%s</body></message>" % (b_bare, text))
        order.append(text)
        if i % 5 == 4:
            # wait for bob to have it, so carol's message is archived after
            await wait_stanza(b, lambda s, t=text: s.name == "message" and s["body"] == t,
                              timeout=harness.scaled(15))
            t2 = "c%03d" % (i // 5)
            c.send_raw("<message to='%s' type='chat'><body>%s</body></message>" % (a_bare, t2))
            await wait_stanza(a, lambda s, t=t2: s.name == "message" and s["body"] == t,
                              timeout=harness.scaled(15))
            order.append(t2)
    b.h_stanzas.clear()
    a.h_stanzas.clear()
    a.h_unconsumed.clear()
    # the sender's copies are written asynchronously: wait for the count
    for _ in range(100):
        _, _, info = await query(a, max=0)
        if info["count"] == N_BOB + N_CAROL:
            break
        await asyncio.sleep(harness.scaled(0.05))
    else:
        raise TestFailure("alice's archive holds %s messages, expected %d"
                          % (info["count"], N_BOB + N_CAROL))
    await harness.disconnect(b)
    await harness.disconnect(c)
    SETUP.update(alice=(a_bare, a_pw), bob=b_bare, carol=(c_bare, c_pw), order=order)
    return SETUP


async def page_forward(c, with_jid, expect):
    seen_ids, bodies, after, pages = [], [], None, 0
    while True:
        ids, got, info = await query(c, with_jid, max=PAGE, after=after)
        pages += 1
        if pages > len(expect) // PAGE + 2:
            raise TestFailure("paging forward does not end")
        if info["count"] != len(expect):
            raise TestFailure("count %s, expected %d" % (info["count"], len(expect)))
        if ids and (info["first"] != ids[0] or info["last"] != ids[-1]
                    or info["index"] != len(bodies)):
            raise TestFailure("page %d: first/last/index %s do not match %s..%s at %d"
                              % (pages, info, ids[0], ids[-1], len(bodies)))
        seen_ids += ids
        bodies += got
        if info["complete"]:
            break
        if len(ids) != PAGE:
            raise TestFailure("an incomplete page of %d is not marked complete" % len(ids))
        after = info["last"]
    if bodies != expect:
        missing = sorted(set(expect) - set(bodies))[:5]
        raise TestFailure("forward paging: %d results, expected %d; missing %s; dups %d"
                          % (len(bodies), len(expect), missing, len(bodies) - len(set(bodies))))
    if len(set(seen_ids)) != len(seen_ids):
        raise TestFailure("duplicate archive ids")
    return seen_ids


async def page_backward(c, with_jid, expect):
    bodies, before, pages = [], "", 0
    while True:
        ids, got, info = await query(c, with_jid, max=PAGE, before=before)
        pages += 1
        if pages > len(expect) // PAGE + 2:
            raise TestFailure("paging backward does not end")
        if info["count"] != len(expect):
            raise TestFailure("count %s, expected %d" % (info["count"], len(expect)))
        if ids and (info["first"] != ids[0] or info["last"] != ids[-1]):
            raise TestFailure("backward page %d: first/last %s" % (pages, info))
        bodies = got + bodies  # each page is in chronological order
        if info["complete"]:
            break
        if len(ids) != PAGE:
            raise TestFailure("an incomplete backward page is not marked complete")
        before = info["first"]
    if bodies != expect:
        raise TestFailure("backward paging: %d results, expected %d, dups %d"
                          % (len(bodies), len(expect), len(bodies) - len(set(bodies))))


async def alice(srv):
    s = await setup(srv)
    bare, pw = s["alice"]
    return await connect(srv, bare + "/pager-" + secrets.token_hex(2), pw, presence=False), s


async def test_forward_and_backward_one_conversation(srv):
    a, s = await alice(srv)
    expect = [t for t in s["order"] if t.startswith("b")]
    await page_forward(a, s["bob"], expect)
    await page_backward(a, s["bob"], expect)


async def test_forward_and_backward_whole_archive(srv):
    a, s = await alice(srv)
    ids = await page_forward(a, None, s["order"])
    await page_backward(a, None, s["order"])
    # carol's conversation through the other index
    expect = [t for t in s["order"] if t.startswith("c")]
    await page_forward(a, s["carol"][0], expect)
    # RSM <index/>: skip into the set
    got_ids, bodies, info = await query(a, None, max=3, index=200)
    if got_ids != ids[200:203] or info["index"] != 200:
        raise TestFailure("index=200: %s (%s)" % (bodies, info))


async def test_flip_page_and_cap(srv):
    a, s = await alice(srv)
    ids, bodies, info = await query(a, s["bob"], max=10, before="")
    fids, fbodies, finfo = await query(a, s["bob"], max=10, before="", flip=True)
    if fbodies != list(reversed(bodies)):
        raise TestFailure("a flipped page must hold the same items newest first: %s vs %s"
                          % (fbodies, bodies))
    if (finfo["first"], finfo["last"]) != (info["first"], info["last"]):
        raise TestFailure("flipping changes first/last: %s vs %s" % (finfo, info))
    # the server's cap (mam.page_max) limits a page; no max uses the default
    ids, bodies, info = await query(a, None, max=100000)
    if len(ids) != PAGE_MAX or info["complete"]:
        raise TestFailure("max above the cap gave %d results (cap %d)" % (len(ids), PAGE_MAX))
    ids, bodies, info = await query(a, None)
    if len(ids) != 20 or info["complete"]:
        raise TestFailure("no <max/> gave %d results (default 20)" % len(ids))
    # a page at the very end is complete
    ids, bodies, info = await query(a, None, max=PAGE, before="")
    ids, bodies, info = await query(a, None, max=PAGE, after=info["last"])
    if ids or not info["complete"] or info["count"] != len(s["order"]):
        raise TestFailure("after the newest: %s %s" % (bodies, info))


async def test_paging_while_messages_arrive(srv):
    """Forward paging through a growing archive: what was there is seen
    once, in order, and what arrives meanwhile comes at the end."""
    a, s = await alice(srv)
    c_bare, c_pw = s["carol"]
    c = await online(srv, c_bare + "/live", c_pw)
    extra = ["live%02d" % i for i in range(30)]
    seen, after, pages, sent = [], None, 0, 0
    while True:
        if sent < len(extra):
            for t in extra[sent:sent + 3]:
                c.send_raw("<message to='%s' type='chat'><body>%s</body></message>"
                           % (s["alice"][0], t))
            sent += 3
        ids, bodies, info = await query(a, None, max=PAGE, after=after)
        seen += bodies
        pages += 1
        if info["complete"] and sent >= len(extra):
            # the last extras may still be on their way
            await asyncio.sleep(harness.scaled(0.2))
            ids, bodies, info = await query(a, None, max=PAGE, after=info["last"] or after)
            seen += bodies
            if info["complete"]:
                break
        if pages > 40:
            raise TestFailure("paging never completes")
        after = info["last"] or after
    base = s["order"]
    if seen[:len(base)] != base:
        raise TestFailure("old messages changed order or went missing while paging")
    if sorted(seen[len(base):]) != sorted(extra) or len(seen) != len(base) + len(extra):
        raise TestFailure("new messages: %s" % seen[len(base):])
    if seen[len(base):] != extra:
        raise TestFailure("new messages out of order: %s" % seen[len(base):])
    s["order"] = base + extra  # later tests see the grown archive


async def test_slixmpp_iterator(srv):
    """slixmpp's XEP-0313 plugin with XEP-0059 iteration, forward and
    reverse, 50 at a time."""
    from slixmpp import JID
    s = await setup(srv)
    bare, pw = s["alice"]
    a = await connect(srv, bare + "/slix", pw, presence=False,
                      plugins=("xep_0059", "xep_0297", "xep_0313"))
    expect = [t for t in s["order"] if t.startswith("b")]
    got = []
    async for msg in a["xep_0313"].iterate(with_jid=JID(s["bob"]), rsm={"max": PAGE}):
        got.append(msg["mam_result"]["forwarded"]["stanza"]["body"])
        if len(got) > len(expect) + 10:
            break
    if got != expect:
        raise TestFailure("slixmpp forward iteration: %d results, first %s, expected %d"
                          % (len(got), got[:3], len(expect)))
    got = []
    async for msg in a["xep_0313"].iterate(with_jid=JID(s["bob"]), rsm={"max": PAGE},
                                           reverse=True):
        got.append(msg["mam_result"]["forwarded"]["stanza"]["body"])
        if len(got) > len(expect) + 10:
            break
    if got != list(reversed(expect)):
        raise TestFailure("slixmpp reverse iteration: %d results, first %s"
                          % (len(got), got[:3]))


if __name__ == "__main__":
    run_tests([
        test_forward_and_backward_one_conversation,
        test_forward_and_backward_whole_archive,
        test_flip_page_and_cap,
        test_paging_while_messages_arrive,
        test_slixmpp_iterator,
    ], srv=Server(**{"modules.mam.page_max": PAGE_MAX, "modules.mam.page_default": 20}),
        timeout=180)
