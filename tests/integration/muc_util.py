"""muc_util.py - helpers for the XEP-0045 tests (50-59): raw occupants
built on roster_peer.Peer, joining, room creation and configuration, and
readers for muc#user status codes and items.

    a = await occupant(srv)                      # logged in, online
    room = new_room(srv)                         # a fresh room JID
    await create(a, room, "alice")               # created and unlocked
    st = await join(b, room, "bob")              # b's self-presence
    assert 110 in codes(st)
"""

import secrets

from harness import TestFailure
from roster_peer import C, Peer, error_condition, show, users

NS_MUC = "http://jabber.org/protocol/muc"
NS_USER = NS_MUC + "#user"
NS_ADMIN = NS_MUC + "#admin"
NS_OWNER = NS_MUC + "#owner"
NS_DATA = "jabber:x:data"
NS_DELAY = "urn:xmpp:delay"
NS_SID = "urn:xmpp:sid:0"
NS_OID = "urn:xmpp:occupant-id:0"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"


def U(name):
    return "{%s}%s" % (NS_USER, name)


def service(srv):
    return "conference." + srv.domain


def new_room(srv, prefix="room"):
    return "%s%s@%s" % (prefix, secrets.token_hex(4), service(srv))


async def occupant(srv, prefix="u", resource=None):
    """A fresh user, logged in with initial presence sent."""
    (bare, pw), = await users(srv, 1, prefix)
    p = await Peer.login(srv, bare, pw, resource)
    await p.online()
    p.password = pw
    return p


def codes(el):
    """The muc#user status codes of a stanza, as a set of ints."""
    x = el.find(U("x"))
    if x is None:
        return set()
    return {int(s.get("code")) for s in x.findall(U("status"))}


def item(el):
    x = el.find(U("x"))
    return x.find(U("item")) if x is not None else None


def is_from(el, jid, tag="presence", type=None):
    return el.tag == C(tag) and el.get("from") == jid and el.get("type") == type


def self_presence(room, nick, type=None):
    return lambda s: is_from(s, "%s/%s" % (room, nick), type=type) and 110 in codes(s)


def join_xml(room, nick, inner="", extra=""):
    return "<presence to='%s/%s'>%s<x xmlns='%s'>%s</x></presence>" % (room, nick, extra, NS_MUC, inner)


async def join(p, room, nick, inner="", extra=""):
    """Enter a room; returns our self-presence (status 110)."""
    p.send(join_xml(room, nick, inner, extra))
    return await p.wait(lambda s: (self_presence(room, nick)(s) or
                                   (s.tag == C("presence") and s.get("type") == "error" and
                                    s.get("from") == "%s/%s" % (room, nick))),
                        what="self-presence from %s/%s" % (room, nick))


async def join_ok(p, room, nick, inner="", extra=""):
    st = await join(p, room, nick, inner, extra)
    if st.get("type") == "error":
        raise TestFailure("join %s/%s failed: %s" % (room, nick, show(st)))
    # the subject always comes last (XEP-0045 §7.2.16)
    await p.wait(lambda s: s.tag == C("message") and s.get("from", "").startswith(room) and
                 s.find(C("subject")) is not None, what="subject after joining")
    return st


async def join_error(p, room, nick, inner=""):
    """Try to enter; returns the error condition."""
    st = await join(p, room, nick, inner)
    if st.get("type") != "error":
        raise TestFailure("join %s/%s succeeded, an error was expected" % (room, nick))
    return error_condition(st)


def form_xml(fields, type="submit", form_type=NS_MUC + "#roomconfig"):
    out = "<x xmlns='%s' type='%s'>" % (NS_DATA, type)
    if form_type:
        out += "<field var='FORM_TYPE'><value>%s</value></field>" % form_type
    for var, value in fields.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        out += "<field var='%s'>%s</field>" % (var, "".join("<value>%s</value>" % v for v in values))
    return out + "</x>"


async def configure(p, room, fields=None, expect="result"):
    """Submit the owner form (an empty one: instant room)."""
    if fields is None:
        payload = "<query xmlns='%s'><x xmlns='%s' type='submit'/></query>" % (NS_OWNER, NS_DATA)
    else:
        payload = "<query xmlns='%s'>%s</query>" % (NS_OWNER, form_xml(fields))
    reply = await p.iq(payload, type="set", to=room)
    if expect == "result" and reply.get("type") != "result":
        raise TestFailure("configuring %s failed: %s" % (room, show(reply)))
    if expect != "result" and error_condition(reply) != expect:
        raise TestFailure("configuring %s: expected <%s/>, got %s" % (room, expect, show(reply)))
    return reply


async def create(p, room, nick, fields=None):
    """Create a room (201), configure it (instant without fields)."""
    st = await join_ok(p, room, nick)
    if 201 not in codes(st):
        raise TestFailure("no status 201 creating %s: %s" % (room, show(st)))
    await configure(p, room, fields)
    return st


async def admin(p, room, items, type="set", expect="result"):
    """A muc#admin IQ with the given <item/> XML; returns the reply."""
    reply = await p.iq("<query xmlns='%s'>%s</query>" % (NS_ADMIN, items), type=type, to=room)
    if expect == "result" and reply.get("type") != "result":
        raise TestFailure("admin %s on %s failed: %s" % (items, room, show(reply)))
    if expect != "result" and error_condition(reply) != expect:
        raise TestFailure("admin %s on %s: expected <%s/>, got %s" % (items, room, expect, show(reply)))
    return reply


def groupchat(p, room, body):
    p.send("<message to='%s' type='groupchat'><body>%s</body></message>" % (room, body))


def is_groupchat(el, frm=None, body=None):
    if el.tag != C("message") or el.get("type") != "groupchat":
        return False
    if frm is not None and el.get("from") != frm:
        return False
    return body is None or el.findtext(C("body")) == body


# ---- archives (XEP-0313), moderation (XEP-0425), registration (§7.10) ----

NS_MAM = "urn:xmpp:mam:2"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_FWD = "urn:xmpp:forward:0"
NS_CLIENT = "jabber:client"
NS_MODERATE = "urn:xmpp:message-moderate:1"
NS_RETRACT = "urn:xmpp:message-retract:1"
NS_REGISTER = "jabber:iq:register"
PERSISTENT = {"muc#roomconfig_persistentroom": "1"}


async def say(p, room, body):
    """Send a groupchat message; returns the room's stanza-id of it (from
    the reflected copy)."""
    groupchat(p, room, body)
    m = await p.wait(lambda s: is_groupchat(s, body=body), what="reflection of " + body)
    sid = m.find("{%s}stanza-id" % NS_SID)
    if sid is None or sid.get("by") != room:
        raise TestFailure("no stanza-id by the room: %s" % show(m))
    return sid.get("id")


async def features(p, room, node=None):
    n = " node='%s'" % node if node else ""
    reply = await p.iq("<query xmlns='%s'%s/>" % (NS_DISCO_INFO, n), to=room)
    if reply.get("type") != "result":
        raise TestFailure("disco#info of %s: %s" % (room, show(reply)))
    return {f.get("var") for f in reply.iter("{%s}feature" % NS_DISCO_INFO)}


async def mam_query(p, room, form="", rsm="", extra="", expect="result"):
    """One archive query to the room: returns (results, fin) where results
    is a list of (archive id, forwarded message element). With expect set
    to an error condition, returns that error reply instead."""
    qid = "q" + secrets.token_hex(4)
    iqid = "i" + secrets.token_hex(4)
    if rsm:
        rsm = "<set xmlns='%s'>%s</set>" % (NS_RSM, rsm)
    p.send("<iq type='set' id='%s' to='%s'><query xmlns='%s' queryid='%s'>%s%s%s</query></iq>"
           % (iqid, room, NS_MAM, qid, form, rsm, extra))
    reply = await p.wait(lambda s: s.tag == C("iq") and s.get("id") == iqid,
                         what="reply to the archive query")
    if expect != "result":
        if error_condition(reply) != expect:
            raise TestFailure("archive query: expected <%s/>, got %s" % (expect, show(reply)))
        return reply
    if reply.get("type") != "result":
        raise TestFailure("archive query failed: %s" % show(reply))
    results = []
    for s in list(p.inbox):
        r = s.find("{%s}result" % NS_MAM)
        if s.tag != C("message") or r is None or r.get("queryid") != qid:
            continue
        p.inbox.remove(s)
        if s.get("from") != room:
            raise TestFailure("result not from the room: %s" % show(s))
        results.append((r.get("id"), r.find("{%s}forwarded/{%s}message" % (NS_FWD, NS_CLIENT))))
    return results, reply.find("{%s}fin" % NS_MAM)


def mam_form(fields):
    return form_xml(fields, form_type=NS_MAM)


def rsm_text(fin, name):
    s = fin.find("{%s}set" % NS_RSM)
    return s.findtext("{%s}%s" % (NS_RSM, name)) if s is not None else None
