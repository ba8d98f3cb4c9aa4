"""pep_util.py - helpers for the PEP tests (44-46): slixmpp clients that
advertise "+notify" interests through Entity Capabilities (XEP-0115), raw
IQs, presence subscriptions between two users, and readers for PubSub
results and event notifications."""

import asyncio
import xml.etree.ElementTree as ET

import harness
from harness import TestFailure, connect, wait_stanza
from slixmpp.exceptions import IqError

PUBSUB = "http://jabber.org/protocol/pubsub"
OWNER = "http://jabber.org/protocol/pubsub#owner"
EVENT = "http://jabber.org/protocol/pubsub#event"
ERRORS = "http://jabber.org/protocol/pubsub#errors"
DATA = "jabber:x:data"
INFO = "http://jabber.org/protocol/disco#info"
ITEMS = "http://jabber.org/protocol/disco#items"
PRIVATE = "jabber:iq:private"

PLUGINS = ("xep_0030", "xep_0060", "xep_0115", "xep_0163")


async def client(srv, bare, pw, res, notify=(), presence=True, plugins=()):
    """A client whose caps carry "<ns>+notify" for each ns in notify; it
    sends initial presence once its caps are computed, then waits for its
    own presence to come back (so the server has seen it)."""
    c = await connect(srv, "%s/%s" % (bare, res), pw, presence=False,
                      plugins=PLUGINS + tuple(plugins))
    for ns in notify:
        c["xep_0030"].add_feature("%s+notify" % ns)
    await c["xep_0115"].update_caps(broadcast=False)
    if presence:
        c.send_presence()
        await wait_stanza(c, lambda s: s.name == "presence" and s["from"] == c.boundjid.full
                          and s["type"] == "available")
    return c


async def user(srv, prefix, res="res", notify=(), presence=True, plugins=()):
    bare, pw = srv.new_user(prefix)
    c = await client(srv, bare, pw, res, notify, presence, plugins)
    c.h_password = pw
    return c


async def befriend(a, b):
    """Mutual presence subscription (slixmpp approves and subscribes back on
    its own), then wait for both to see each other's presence."""
    a.send_presence(pto=b.boundjid.bare, ptype="subscribe")
    await wait_stanza(a, lambda s: s.name == "presence" and s["type"] == "subscribed"
                      and s["from"].bare == b.boundjid.bare)
    await wait_stanza(b, lambda s: s.name == "presence" and s["type"] == "subscribed"
                      and s["from"].bare == a.boundjid.bare)
    await asyncio.sleep(harness.scaled(0.5))


async def iq(c, payload, type="set", to=None):
    """Send an IQ with a raw payload; the reply (result or error)."""
    st = c.Iq()
    st["type"] = type
    if to:
        st["to"] = to
    st.append(ET.fromstring(payload))
    try:
        return await st.send(timeout=harness.TIMEOUT)
    except IqError as e:
        return e.iq


def form(form_type, fields):
    """A submitted data form with FORM_TYPE and {var: value or [values]}."""
    out = ["<x xmlns='%s' type='submit'><field var='FORM_TYPE' type='hidden'><value>%s</value>"
           "</field>" % (DATA, form_type)]
    for var, value in fields.items():
        values = value if isinstance(value, list) else [value]
        out.append("<field var='%s'>%s</field>" % (var, "".join("<value>%s</value>" % v
                                                                 for v in values)))
    out.append("</x>")
    return "".join(out)


def publish_xml(node, payload, id=None, options=None):
    item = "<item%s>%s</item>" % (" id='%s'" % id if id else "", payload)
    opts = ""
    if options:
        opts = "<publish-options>%s</publish-options>" % form(PUBSUB + "#publish-options", options)
    return "<pubsub xmlns='%s'><publish node='%s'>%s</publish>%s</pubsub>" % (PUBSUB, node, item,
                                                                              opts)


async def publish(c, node, payload, id=None, options=None, to=None):
    return await iq(c, publish_xml(node, payload, id, options), to=to)


async def items(c, owner, node, max_items=None, ids=()):
    attrs = " max_items='%d'" % max_items if max_items else ""
    inner = "".join("<item id='%s'/>" % i for i in ids)
    return await iq(c, "<pubsub xmlns='%s'><items node='%s'%s>%s</items></pubsub>"
                    % (PUBSUB, node, attrs, inner), type="get", to=owner)


def expect_result(reply):
    if reply["type"] != "result":
        raise TestFailure("expected a result, got %s" % reply)
    return reply


def expect_error(reply, condition, app=None):
    if reply["type"] != "error" or reply["error"]["condition"] != condition:
        raise TestFailure("expected %s, got %s" % (condition, reply))
    if app is not None:
        err = reply.xml.find("{jabber:client}error")
        if err is None or err.find("{%s}%s" % (ERRORS, app)) is None:
            raise TestFailure("expected %s/%s, got %s" % (condition, app, reply))
    return reply


def result_items(reply):
    """[(id, payload element or None)] of an items result."""
    expect_result(reply)
    out = []
    for it in reply.xml.iter("{%s}item" % PUBSUB):
        kids = list(it)
        out.append((it.get("id"), kids[0] if kids else None))
    return out


def published_id(reply):
    expect_result(reply)
    it = reply.xml.find("{%s}pubsub/{%s}publish/{%s}item" % (PUBSUB, PUBSUB, PUBSUB))
    if it is None or not it.get("id"):
        raise TestFailure("no item id in the publish result: %s" % reply)
    return it.get("id")


def event_of(st, node):
    """The <items/> (or <delete/>, <purge/>) element of an event
    notification about node, or None."""
    if st.name != "message":
        return None
    ev = st.xml.find("{%s}event" % EVENT)
    if ev is None:
        return None
    for child in ev:
        if child.get("node") == node:
            return child
    return None


def is_item_event(node, id=None, frm=None):
    def pred(st):
        el = event_of(st, node)
        if el is None or el.tag != "{%s}items" % EVENT:
            return False
        if frm is not None and st["from"] != frm:
            return False
        it = el.find("{%s}item" % EVENT)
        return it is not None and (id is None or it.get("id") == id)
    return pred


def is_retract_event(node, id):
    def pred(st):
        el = event_of(st, node)
        r = el.find("{%s}retract" % EVENT) if el is not None else None
        return r is not None and r.get("id") == id
    return pred


def event_payload(st, node):
    el = event_of(st, node)
    it = el.find("{%s}item" % EVENT) if el is not None else None
    kids = list(it) if it is not None else []
    return kids[0] if kids else None


# ---- the PubSub service on pubsub.DOMAIN (tests 30-34) ----------------------

def service(srv):
    return "pubsub." + srv.domain


async def ps_user(srv, prefix):
    """A plain client (no caps) with presence, for the service tests."""
    bare, pw = srv.new_user(prefix)
    c = await connect(srv, bare + "/res", pw)
    c.h_password = pw
    return c


async def ps_create(c, node, config=None, to=None):
    conf = ""
    if config is not None:
        conf = "<configure>%s</configure>" % form(PUBSUB + "#node_config", config)
    attr = " node='%s'" % node if node else ""
    return await iq(c, "<pubsub xmlns='%s'><create%s/>%s</pubsub>" % (PUBSUB, attr, conf), to=to)


async def ps_subscribe(c, node, to, jid=None):
    return await iq(c, "<pubsub xmlns='%s'><subscribe node='%s' jid='%s'/></pubsub>"
                    % (PUBSUB, node, jid or c.boundjid.bare), to=to)


async def ps_unsubscribe(c, node, to, jid=None):
    return await iq(c, "<pubsub xmlns='%s'><unsubscribe node='%s' jid='%s'/></pubsub>"
                    % (PUBSUB, node, jid or c.boundjid.bare), to=to)


async def ps_owner(c, inner, to, type="set"):
    return await iq(c, "<pubsub xmlns='%s'>%s</pubsub>" % (OWNER, inner), type=type, to=to)


def subscription_of(reply):
    """The <subscription/> element of a subscribe result."""
    expect_result(reply)
    sub = reply.xml.find("{%s}pubsub/{%s}subscription" % (PUBSUB, PUBSUB))
    if sub is None:
        raise TestFailure("no subscription in %s" % reply)
    return sub


def form_values(x):
    """{var: [values]} of a data form element."""
    out = {}
    for f in x.iter("{%s}field" % DATA):
        out[f.get("var")] = [v.text or "" for v in f.findall("{%s}value" % DATA)]
    return out
