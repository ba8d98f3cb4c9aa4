#!/usr/bin/python3
"""42-mam: mod_mam, XEP-0313 user archives with XEP-0359 stanza ids: both
sides of a conversation are archived, the recipient's copy is delivered with
<stanza-id by=archive/> (a forged one is removed), what is not archived
(chat states, no-store hints, headlines), the query filters of the data form,
errors (item-not-found, unknown fields, other users), preferences (XEP-0441),
retraction tombstones (XEP-0424), corrections (XEP-0308), metadata, disco,
and the archive surviving a restart."""

import asyncio
import re
import secrets
from datetime import datetime, timedelta, timezone

import harness
from harness import Server, TestFailure, assert_no_stanza, connect, run_tests, wait_stanza

NS_MAM = "urn:xmpp:mam:2"
NS_SID = "urn:xmpp:sid:0"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_FWD = "urn:xmpp:forward:0"
NS_DELAY = "urn:xmpp:delay"
NS_CLIENT = "jabber:client"
NS_HINTS = "urn:xmpp:hints"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"


def tag():
    return "a-" + secrets.token_hex(4)


def xml_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&apos;")


class Result:
    """One archived message as a query returned it."""

    def __init__(self, stanza):
        r = stanza.xml.find("{%s}result" % NS_MAM)
        self.id = r.get("id")
        self.queryid = r.get("queryid")
        self.frm = stanza["from"].full
        fwd = r.find("{%s}forwarded" % NS_FWD)
        self.stamp = fwd.find("{%s}delay" % NS_DELAY).get("stamp")
        self.msg = fwd.find("{%s}message" % NS_CLIENT)
        body = self.msg.find("{%s}body" % NS_CLIENT) if self.msg is not None else None
        self.body = body.text if body is not None else None

    def __repr__(self):
        return "<%s %s>" % (self.id, self.body)


class Fin:
    def __init__(self, iq):
        fin = iq.xml.find("{%s}fin" % NS_MAM)
        if fin is None:
            raise TestFailure("IQ result without <fin/>: %s" % iq)
        self.complete = fin.get("complete") in ("true", "1")
        self.stable = fin.get("stable") not in ("false", "0")
        s = fin.find("{%s}set" % NS_RSM)
        get = lambda n: s.find("{%s}%s" % (NS_RSM, n)) if s is not None else None
        self.first = get("first").text if get("first") is not None else None
        self.first_index = int(get("first").get("index")) if get("first") is not None and get("first").get("index") else None
        self.last = get("last").text if get("last") is not None else None
        self.count = int(get("count").text) if get("count") is not None else None


def form(fields):
    if not fields:
        return ""
    out = ["<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
           "<value>%s</value></field>" % NS_MAM]
    for var, value in fields.items():
        values = value if isinstance(value, list) else [value]
        out.append("<field var='%s'>%s</field>" % (
            var, "".join("<value>%s</value>" % xml_escape(v) for v in values)))
    out.append("</x>")
    return "".join(out)


def rsm(max=None, after=None, before=None, index=None):
    parts = []
    if max is not None:
        parts.append("<max>%d</max>" % max)
    if after is not None:
        parts.append("<after>%s</after>" % after)
    if before is not None:
        parts.append("<before>%s</before>" % before if before else "<before/>")
    if index is not None:
        parts.append("<index>%d</index>" % index)
    return "<set xmlns='%s'>%s</set>" % (NS_RSM, "".join(parts)) if parts else ""


async def query_raw(c, fields=None, set_xml="", to=None, extra="", qid=None):
    """Send a MAM query; returns (reply IQ, [Result...]) with the results
    that arrived before the reply."""
    qid = qid or "q" + secrets.token_hex(4)
    iqid = "iq" + secrets.token_hex(4)
    to_attr = " to='%s'" % to if to else ""
    c.send_raw("<iq type='set' id='%s'%s><query xmlns='%s' queryid='%s'>%s%s%s</query></iq>"
               % (iqid, to_attr, NS_MAM, qid, form(fields), set_xml, extra))
    reply = await wait_stanza(c, lambda s: s.name == "iq" and s["id"] == iqid)
    pos = c.h_stanzas.index(reply)
    results = []
    for s in c.h_stanzas:
        r = s.xml.find("{%s}result" % NS_MAM) if s.name == "message" else None
        if r is not None and r.get("queryid") == qid:
            if c.h_stanzas.index(s) > pos:
                raise TestFailure("a result arrived after the IQ result")
            results.append(Result(s))
    return reply, results


async def query(c, fields=None, **rsm_args):
    reply, results = await query_raw(c, fields, rsm(**rsm_args))
    if reply["type"] != "result":
        raise TestFailure("query failed: %s" % reply)
    return Fin(reply), results


def error_condition(reply):
    if reply["type"] != "error":
        raise TestFailure("expected an error, got %s" % reply)
    return reply["error"]["condition"]


async def online(srv, jid, password):
    """A client whose initial presence the server has processed (its own
    broadcast came back, RFC 6121 §4.2.2), so messages reach it directly
    rather than through offline storage."""
    c = await connect(srv, jid, password)
    await wait_stanza(c, lambda s: s.name == "presence" and s["from"].full == c.boundjid.full)
    return c


async def pair(srv):
    """alice and bob, both online."""
    a_bare, a_pw = srv.new_user("alice")
    b_bare, b_pw = srv.new_user("bob")
    a = await online(srv, a_bare + "/desk", a_pw)
    b = await online(srv, b_bare + "/phone", b_pw)
    return a, b


def body_is(text):
    return lambda s: s.name == "message" and s["body"] == text


def stanza_ids(stanza):
    return [(e.get("by"), e.get("id")) for e in stanza.xml.findall("{%s}stanza-id" % NS_SID)]


async def until_archived(c, text, fields=None, tries=40):
    """Archive writes are asynchronous: poll until `text` is in c's archive."""
    for _ in range(tries):
        fin, res = await query(c, fields, max=250, before="")
        if any(r.body == text for r in res):
            return res
        await asyncio.sleep(harness.scaled(0.05))
    raise TestFailure("%r never reached the archive of %s" % (text, c.boundjid.bare))


async def test_both_sides_and_stanza_id(srv):
    a, b = await pair(srv)
    text = tag()
    a.send_raw("<message to='%s' type='chat' id='m1'><body>%s</body></message>"
               % (b.boundjid.bare, text))
    got = await wait_stanza(b, body_is(text))
    ids = stanza_ids(got)
    if len(ids) != 1 or ids[0][0] != b.boundjid.bare or not ids[0][1]:
        raise TestFailure("delivered message should carry one stanza-id by=%s: %s"
                          % (b.boundjid.bare, got))
    sid = ids[0][1]
    if not re.fullmatch(r"[a-z2-7]{12,}", sid):
        raise TestFailure("archive id %r is not a long random id" % sid)

    fin, res = await query(b)
    mine = [r for r in res if r.body == text]
    if len(mine) != 1 or mine[0].id != sid:
        raise TestFailure("bob's archive %s should hold the message under id %s" % (res, sid))
    r = mine[0]
    if r.frm != b.boundjid.bare:
        raise TestFailure("results must come from the archive's JID, got %s" % r.frm)
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", r.stamp or ""):
        raise TestFailure("delay stamp %r is not XEP-0082" % r.stamp)
    if r.msg.get("from") != a.boundjid.full or r.msg.get("id") != "m1":
        raise TestFailure("archived message lost its attributes: %s" % r.msg.attrib)
    if not fin.complete or fin.first != sid or fin.last != sid or fin.count != 1:
        raise TestFailure("fin: complete=%s first=%s last=%s count=%s"
                          % (fin.complete, fin.first, fin.last, fin.count))

    res = await until_archived(a, text)
    sent = [r for r in res if r.body == text]
    if len(sent) != 1 or sent[0].msg.get("to") != b.boundjid.bare:
        raise TestFailure("alice's archive should hold her sent message: %s" % res)
    if sent[0].id == sid:
        raise TestFailure("both archives use the same id")
    # the sender's copy never carries a stanza-id to the recipient
    if any(by == a.boundjid.bare for by, _ in ids):
        raise TestFailure("the sender's archive id leaked to the recipient")


async def test_forged_stanza_id_removed(srv):
    a, b = await pair(srv)
    bob = b.boundjid.bare
    text, chat_state = tag(), tag()
    a.send_raw("<message to='%s' type='chat'><body>%s</body>"
               "<stanza-id xmlns='%s' by='%s' id='forged-1'/>"
               "<stanza-id xmlns='%s' by='room@elsewhere.example' id='keep-1'/></message>"
               % (bob, text, NS_SID, bob, NS_SID))
    got = await wait_stanza(b, body_is(text))
    ids = stanza_ids(got)
    own = [i for by, i in ids if by == bob]
    if len(own) != 1 or own[0] == "forged-1":
        raise TestFailure("forged stanza-id not replaced: %s" % ids)
    if ("room@elsewhere.example", "keep-1") not in ids:
        raise TestFailure("a stanza-id by another entity must stay: %s" % ids)
    # not archived (no body) but still cleaned
    a.send_raw("<message to='%s' type='chat' id='%s'>"
               "<active xmlns='http://jabber.org/protocol/chatstates'/>"
               "<stanza-id xmlns='%s' by='%s' id='forged-2'/></message>"
               % (bob, chat_state, NS_SID, bob))
    got = await wait_stanza(b, lambda s: s.name == "message" and s["id"] == chat_state)
    if stanza_ids(got):
        raise TestFailure("forged stanza-id delivered on an unarchived message: %s" % got)
    # the archive holds the message without the forgery
    fin, res = await query(b)
    mine = [r for r in res if r.body == text]
    if len(mine) != 1:
        raise TestFailure("message not archived once: %s" % res)
    if any(e.get("id") == "forged-1" for e in mine[0].msg.findall("{%s}stanza-id" % NS_SID)):
        raise TestFailure("the archived copy kept the forged stanza-id")
    if any(r.body is None for r in res):
        raise TestFailure("a bodyless chat state was archived: %s" % res)


async def test_what_is_not_archived(srv):
    a, b = await pair(srv)
    bob = b.boundjid.bare
    no_store, no_perm, headline, hinted, normal = tag(), tag(), tag(), tag(), tag()
    a.send_raw("<message to='%s' type='chat'><body>%s</body><no-store xmlns='%s'/></message>"
               % (bob, no_store, NS_HINTS))
    a.send_raw("<message to='%s' type='chat'><body>%s</body><no-permanent-store xmlns='%s'/>"
               "</message>" % (bob, no_perm, NS_HINTS))
    a.send_raw("<message to='%s' type='headline'><body>%s</body></message>" % (bob, headline))
    a.send_raw("<message to='%s' type='chat' id='%s'><store xmlns='%s'/>"
               "<x xmlns='urn:example:payload'/></message>" % (bob, hinted, NS_HINTS))
    a.send_raw("<message to='%s'><body>%s</body></message>" % (bob, normal))
    for t in (no_store, no_perm, headline, normal):
        got = await wait_stanza(b, body_is(t))
        if t != normal and stanza_ids(got):
            raise TestFailure("unarchived message %s delivered with a stanza-id" % t)
    hinted_got = await wait_stanza(b, lambda s: s.name == "message" and s["id"] == hinted)
    if not stanza_ids(hinted_got):
        raise TestFailure("a <store/> hinted message should be archived and stamped")
    fin, res = await query(b)
    bodies = [r.body for r in res]
    if bodies != [None, normal]:
        raise TestFailure("bob's archive should hold the hinted and the normal message, "
                          "got %s" % res)
    fin, res = await query(a)
    if [r.body for r in res] != [None, normal]:
        raise TestFailure("alice's archive should hold the same two: %s" % res)


async def test_filters(srv):
    a_bare, a_pw = srv.new_user("alice")
    b_bare, b_pw = srv.new_user("bob")
    c_bare, c_pw = srv.new_user("carol")
    a = await online(srv, a_bare + "/desk", a_pw)
    a2 = await online(srv, a_bare + "/laptop", a_pw)
    b = await online(srv, b_bare + "/phone", b_pw)
    c = await online(srv, c_bare + "/tab", c_pw)
    texts = []
    for i, (sender, to) in enumerate([(b, a_bare), (c, a_bare), (a, b_bare + "/phone"),
                                      (b, a_bare), (c, a_bare)]):
        t = "f%d-%s" % (i, tag())
        texts.append(t)
        sender.send_raw("<message to='%s' type='chat'><body>%s</body></message>" % (to, t))
        await until_archived(a, t)
    a2.send_raw("<message to='%s' type='chat'><body>note to self</body></message>" % a_bare)
    await until_archived(a, "note to self")

    fin, res = await query(a)
    if [r.body for r in res] != texts + ["note to self"]:
        raise TestFailure("whole archive out of order: %s" % res)
    ids = [r.id for r in res]

    fin, res = await query(a, {"with": b_bare})
    if [r.body for r in res] != [texts[0], texts[2], texts[3]]:
        raise TestFailure("with=bob: %s" % res)
    fin, res = await query(a, {"with": b_bare + "/phone"})
    if [r.body for r in res] != [texts[0], texts[2], texts[3]]:
        raise TestFailure("with=bob/phone (the only resource used): %s" % res)
    fin, res = await query(a, {"with": b_bare + "/other"})
    if res or not fin.complete or fin.count != 0:
        raise TestFailure("with=bob/other should match nothing: %s" % res)
    fin, res = await query(a, {"with": a_bare})
    if [r.body for r in res] != ["note to self"]:
        raise TestFailure("with=own JID: only messages to oneself (§4.1.1): %s" % res)

    # start/end are inclusive, and a result's stamp selects it again
    all_res = (await query(a))[1]
    fin, res = await query(a, {"start": all_res[1].stamp, "end": all_res[3].stamp})
    if [r.id for r in res] != ids[1:4]:
        raise TestFailure("start/end from stamps: %s" % res)
    future = (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fin, res = await query(a, {"start": future})
    if res or not fin.complete:
        raise TestFailure("start in the future: %s" % res)
    fin, res = await query(a, {"end": "2000-01-01T00:00:00+02:00"})
    if res:
        raise TestFailure("end in the past: %s" % res)

    # extended: after-id, before-id, ids
    fin, res = await query(a, {"after-id": ids[1], "before-id": ids[4]})
    if [r.id for r in res] != ids[2:4]:
        raise TestFailure("after-id/before-id: %s" % res)
    fin, res = await query(a, {"ids": [ids[3], ids[0]]})
    if [r.id for r in res] != [ids[0], ids[3]]:
        raise TestFailure("ids: %s" % res)
    fin, res = await query(a, {"with": c_bare}, max=1)
    if [r.body for r in res] != [texts[1]] or fin.complete or fin.count != 2:
        raise TestFailure("with=carol max=1: %s complete=%s count=%s" % (res, fin.complete, fin.count))
    fin, res = await query(a, {"with": c_bare}, max=1, after=fin.last)
    if [r.body for r in res] != [texts[4]] or not fin.complete or fin.first_index != 1:
        raise TestFailure("second page: %s complete=%s index=%s" % (res, fin.complete, fin.first_index))


async def test_errors(srv):
    a, b = await pair(srv)
    a.send_raw("<message to='%s' type='chat'><body>x</body></message>" % b.boundjid.bare)
    await wait_stanza(b, body_is("x"))
    cases = [
        (dict(fields=None, set_xml=rsm(after="no-such-id")), "item-not-found"),
        (dict(fields=None, set_xml=rsm(before="no-such-id")), "item-not-found"),
        (dict(fields={"after-id": "no-such-id"}), "item-not-found"),
        (dict(fields={"before-id": "no-such-id"}), "item-not-found"),
        (dict(fields={"ids": ["no-such-id"]}), "item-not-found"),
        (dict(fields={"urn:example:unknown": "x"}), "feature-not-implemented"),
        (dict(fields={"start": "yesterday"}), "bad-request"),
        (dict(fields={"with": "@@bad@@"}), "jid-malformed"),
        (dict(fields=None, set_xml="<set xmlns='%s'><max>lots</max></set>" % NS_RSM),
         "bad-request"),
    ]
    for kw, want in cases:
        reply, res = await query_raw(b, **kw)
        got = error_condition(reply)
        if got != want or res:
            raise TestFailure("%s: expected %s, got %s" % (kw, want, got))
    # a bad FORM_TYPE
    iqid = "ft" + secrets.token_hex(3)
    b.send_raw("<iq type='set' id='%s'><query xmlns='%s'><x xmlns='jabber:x:data' type='submit'>"
               "<field var='FORM_TYPE'><value>urn:example</value></field></x></query></iq>"
               % (iqid, NS_MAM))
    reply = await wait_stanza(b, lambda s: s.name == "iq" and s["id"] == iqid)
    if error_condition(reply) != "bad-request":
        raise TestFailure("wrong FORM_TYPE accepted: %s" % reply)
    # nobody else may read bob's archive (§9.1)
    reply, res = await query_raw(a, to=b.boundjid.bare)
    if error_condition(reply) != "forbidden" or res:
        raise TestFailure("alice read bob's archive: %s" % reply)


async def iq_get(c, payload, to=None):
    iqid = "g" + secrets.token_hex(4)
    c.send_raw("<iq type='get' id='%s'%s>%s</iq>" % (iqid, " to='%s'" % to if to else "", payload))
    return await wait_stanza(c, lambda s: s.name == "iq" and s["id"] == iqid)


async def iq_set(c, payload):
    iqid = "s" + secrets.token_hex(4)
    c.send_raw("<iq type='set' id='%s'>%s</iq>" % (iqid, payload))
    return await wait_stanza(c, lambda s: s.name == "iq" and s["id"] == iqid)


async def test_form_metadata_disco(srv):
    a, b = await pair(srv)
    reply = await iq_get(b, "<query xmlns='%s'/>" % NS_MAM)
    vars_ = [f.get("var") for f in reply.xml.iter("{jabber:x:data}field")]
    for v in ("FORM_TYPE", "with", "start", "end", "after-id", "before-id", "ids"):
        if v not in vars_:
            raise TestFailure("form lacks %s: %s" % (v, vars_))
    md = (await iq_get(b, "<metadata xmlns='%s'/>" % NS_MAM)).xml.find("{%s}metadata" % NS_MAM)
    if md is None or len(md):
        raise TestFailure("metadata of an empty archive should be empty: %s" % md)
    for t in ("one", "two"):
        a.send_raw("<message to='%s' type='chat'><body>%s</body></message>" % (b.boundjid.bare, t))
        await wait_stanza(b, body_is(t))
    fin, res = await query(b)
    md = (await iq_get(b, "<metadata xmlns='%s'/>" % NS_MAM)).xml.find("{%s}metadata" % NS_MAM)
    start, end = md.find("{%s}start" % NS_MAM), md.find("{%s}end" % NS_MAM)
    if start is None or end is None or start.get("id") != res[0].id or end.get("id") != res[-1].id \
            or start.get("timestamp") != res[0].stamp:
        raise TestFailure("metadata %s does not match the archive %s" % (md, res))
    reply = await iq_get(b, "<query xmlns='http://jabber.org/protocol/disco#info'/>",
                         to=b.boundjid.bare)
    feats = [f.get("var") for f in reply.xml.iter("{http://jabber.org/protocol/disco#info}feature")]
    for f in (NS_MAM, NS_MAM + "#extended", NS_SID):
        if f not in feats:
            raise TestFailure("account disco lacks %s: %s" % (f, feats))


def prefs_of(reply):
    p = reply.xml.find("{%s}prefs" % NS_MAM)
    if p is None:
        raise TestFailure("no <prefs/> in %s" % reply)
    lst = lambda n: [j.text for j in p.findall("{%s}%s/{%s}jid" % (NS_MAM, n, NS_MAM))]
    return p.get("default"), lst("always"), lst("never")


async def test_prefs(srv):
    a_bare, a_pw = srv.new_user("alice")
    b_bare, b_pw = srv.new_user("bob")
    c_bare, c_pw = srv.new_user("carol")
    a = await online(srv, a_bare + "/desk", a_pw)
    b = await online(srv, b_bare + "/phone", b_pw)
    c = await online(srv, c_bare + "/tab", c_pw)
    if prefs_of(await iq_get(b, "<prefs xmlns='%s'/>" % NS_MAM)) != ("always", [], []):
        raise TestFailure("default preferences should be 'always' with empty lists")

    # never with alice; default never but always carol
    reply = await iq_set(b, "<prefs xmlns='%s' default='never'><always><jid>%s</jid></always>"
                            "<never><jid>%s</jid></never></prefs>" % (NS_MAM, c_bare, a_bare))
    if prefs_of(reply) != ("never", [c_bare], [a_bare]):
        raise TestFailure("prefs set answered %s" % reply)
    from_a, from_c = tag(), tag()
    a.send_raw("<message to='%s' type='chat'><body>%s</body></message>" % (b_bare, from_a))
    c.send_raw("<message to='%s' type='chat'><body>%s</body></message>" % (b_bare, from_c))
    got_a = await wait_stanza(b, body_is(from_a))
    got_c = await wait_stanza(b, body_is(from_c))
    if stanza_ids(got_a) or not stanza_ids(got_c):
        raise TestFailure("prefs not applied at delivery: %s / %s" % (got_a, got_c))
    fin, res = await query(b)
    if [r.body for r in res] != [from_c]:
        raise TestFailure("archive with prefs never(alice)/always(carol): %s" % res)
    # bob's sent messages follow his preferences too
    b.send_raw("<message to='%s' type='chat'><body>to-a</body></message>" % a_bare)
    b.send_raw("<message to='%s' type='chat'><body>to-c</body></message>" % c_bare)
    await wait_stanza(c, body_is("to-c"))
    await wait_stanza(a, body_is("to-a"))
    await until_archived(b, "to-c")
    fin, res = await query(b)
    if [r.body for r in res] != [from_c, "to-c"]:
        raise TestFailure("sent messages vs prefs: %s" % res)

    # invalid preferences are refused and change nothing
    reply = await iq_set(b, "<prefs xmlns='%s' default='sometimes'/>" % NS_MAM)
    if error_condition(reply) != "bad-request":
        raise TestFailure("bad default accepted: %s" % reply)
    # kept across sessions (stored)
    await harness.disconnect(b)
    await asyncio.sleep(harness.scaled(0.3))
    b = await online(srv, b_bare + "/other", b_pw)
    if prefs_of(await iq_get(b, "<prefs xmlns='%s'/>" % NS_MAM)) != ("never", [c_bare], [a_bare]):
        raise TestFailure("preferences not kept")
    # nobody else reads them
    reply = await iq_get(a, "<prefs xmlns='%s'/>" % NS_MAM, to=b_bare)
    if error_condition(reply) != "forbidden":
        raise TestFailure("alice read bob's prefs: %s" % reply)
    reply = await iq_set(b, "<prefs xmlns='%s' default='always'/>" % NS_MAM)
    if prefs_of(reply) != ("always", [], []):
        raise TestFailure("reset to always: %s" % reply)


async def test_retraction_and_correction(srv):
    a, b = await pair(srv)
    bob, alice = b.boundjid.bare, a.boundjid.bare
    orig, other, fixed = tag(), tag(), tag()
    a.send_raw("<message to='%s' type='chat' id='m-orig'><body>%s</body>"
               "<origin-id xmlns='%s' id='origin-1'/></message>" % (bob, orig, NS_SID))
    a.send_raw("<message to='%s' type='chat' id='m-other'><body>%s</body>"
               "<origin-id xmlns='%s' id='origin-2'/></message>" % (bob, other, NS_SID))
    # XEP-0308 correction of the second
    a.send_raw("<message to='%s' type='chat' id='m-fix'><body>%s</body>"
               "<replace xmlns='urn:xmpp:message-correct:0' id='m-other'/></message>" % (bob, fixed))
    await wait_stanza(b, body_is(fixed))
    # bob claiming to retract alice's message must not work
    b.send_raw("<message to='%s' type='chat' id='m-evil'><retract xmlns='urn:xmpp:message-retract:1' "
               "id='origin-2'/><body>fallback</body></message>" % alice)
    await wait_stanza(a, lambda s: s.name == "message" and s["id"] == "m-evil")
    # XEP-0424: alice retracts her first message
    a.send_raw("<message to='%s' type='chat' id='m-retract'>"
               "<retract xmlns='urn:xmpp:message-retract:1' id='origin-1'/>"
               "<fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:message-retract:1'/>"
               "<body>retracted</body><store xmlns='%s'/></message>" % (bob, NS_HINTS))
    await wait_stanza(b, lambda s: s.name == "message" and s["id"] == "m-retract")
    for client in (b, a):
        for _ in range(40):
            fin, res = await query(client, {"with": bob if client is a else alice})
            first = res[0] if res else None
            if first is not None and first.msg.find(
                    "{urn:xmpp:message-retract:1}retracted") is not None:
                break
            await asyncio.sleep(harness.scaled(0.05))
        else:
            raise TestFailure("%s: retracted message not replaced by a tombstone: %s"
                              % (client.boundjid.bare, res))
        if first.body is not None or first.msg.get("id") != "m-orig":
            raise TestFailure("tombstone keeps the body or loses the id: %s" % first.msg.attrib)
        oid = first.msg.find("{%s}origin-id" % NS_SID)
        if oid is None or oid.get("id") != "origin-1":
            raise TestFailure("tombstone lost the origin-id")
        bodies = [r.body for r in res[1:]]
        want = [other, fixed, "fallback", "retracted"]
        if bodies != want:
            raise TestFailure("%s: rest of the archive %s, expected %s"
                              % (client.boundjid.bare, bodies, want))


async def test_offline_recipient_and_self(srv):
    a_bare, a_pw = srv.new_user("alice")
    b_bare, b_pw = srv.new_user("bob")
    a = await connect(srv, a_bare + "/desk", a_pw)
    text = tag()
    a.send_raw("<message to='%s' type='chat'><body>%s</body></message>" % (b_bare, text))
    await until_archived(a, text)
    b = await connect(srv, b_bare + "/phone", b_pw)
    got = await wait_stanza(b, body_is(text))  # from offline storage
    fin, res = await query(b)
    if [r.body for r in res] != [text]:
        raise TestFailure("message to an offline user not archived once: %s" % res)
    if stanza_ids(got) != [(b_bare, res[0].id)]:
        raise TestFailure("offline copy should carry the archive id: %s" % got)
    # to oneself: archived once, not as sent and received
    a.send_raw("<message to='%s' type='chat'><body>self</body></message>" % a_bare)
    a.send_raw("<message type='chat'><body>self-no-to</body></message>")
    await until_archived(a, "self-no-to")
    fin, res = await query(a)
    if [r.body for r in res] != [text, "self", "self-no-to"]:
        raise TestFailure("messages to oneself archived wrongly: %s" % res)


async def test_restart(srv):
    a_bare, a_pw = srv.new_user("alice")
    b_bare, b_pw = srv.new_user("bob")
    a = await online(srv, a_bare + "/desk", a_pw)
    b = await online(srv, b_bare + "/phone", b_pw)
    texts = [tag() for _ in range(3)]
    for t in texts:
        a.send_raw("<message to='%s' type='chat'><body>%s</body></message>" % (b_bare, t))
        await wait_stanza(b, body_is(t))
    await until_archived(a, texts[-1])
    fin, before_b = await query(b)
    fin, before_a = await query(a)
    await harness.disconnect(a)
    await harness.disconnect(b)
    srv.restart()
    a = await online(srv, a_bare + "/desk", a_pw)
    b = await online(srv, b_bare + "/phone", b_pw)
    fin, after_b = await query(b)
    fin, after_a = await query(a)
    key = lambda rs: [(r.id, r.body, r.stamp) for r in rs]
    if key(after_b) != key(before_b) or key(after_a) != key(before_a):
        raise TestFailure("archive changed across a restart:\n# %s\n# %s"
                          % (key(before_b), key(after_b)))
    # new messages go after the old ones, ids still unique
    t = tag()
    a.send_raw("<message to='%s' type='chat'><body>%s</body></message>" % (b_bare, t))
    await wait_stanza(b, body_is(t))
    fin, res = await query(b)
    if [r.body for r in res] != texts + [t] or len({r.id for r in res}) != 4:
        raise TestFailure("after restart: %s" % res)


if __name__ == "__main__":
    run_tests([
        test_both_sides_and_stanza_id,
        test_forged_stanza_id_removed,
        test_what_is_not_archived,
        test_filters,
        test_errors,
        test_form_metadata_disco,
        test_prefs,
        test_retraction_and_correction,
        test_offline_recipient_and_self,
        test_restart,
    ], srv=Server())
