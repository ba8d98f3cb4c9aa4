"""labels_util.py - helpers for the security-label tests (80-89): users with
clearances set through aldisctl, the XEP-0258 catalog asked of the server,
and labelled stanzas built from the <securitylabel/> elements the server's
own catalog hands out (so the tests need no ESS encoder of their own)."""

import xml.etree.ElementTree as ET

from harness import TestFailure, send_iq

NS_SL = "urn:xmpp:sec-label:0"
NS_CAT = "urn:xmpp:sec-label:catalog:2"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"


def user(srv, prefix, clearance=None, categories=()):
    """A fresh account, with `clearance` (a classification name) set by
    `aldisctl user clearance` before it ever logs in (the server reads the
    clearance when it loads the account)."""
    bare, pw = srv.new_user(prefix)
    if clearance:
        args = ["user", "clearance", bare, "--classification", clearance]
        for c in categories:
            args += ["--category", c]
        srv.ctl(*args)
    return bare, pw


def xml_string(el, parent_ns=None):
    """Serialise an ElementTree element with default-namespace declarations
    (no ns0: prefixes), as a client would write it."""
    ns, _, name = el.tag[1:].partition("}") if el.tag.startswith("{") else ("", "", el.tag)
    out = "<" + name
    if ns != parent_ns:
        out += " xmlns='%s'" % ns
    for k, v in el.attrib.items():
        out += " %s='%s'" % (k, v.replace("&", "&amp;").replace("'", "&apos;").replace("<", "&lt;"))
    out += ">"
    if el.text:
        out += el.text.replace("&", "&amp;").replace("<", "&lt;")
    for c in el:
        out += xml_string(c, ns)
        if c.tail:
            out += c.tail.replace("&", "&amp;").replace("<", "&lt;")
    return out + "</%s>" % name


async def catalog(client, domain, target):
    """The catalog the server answers for `target`: a list of
    (selector, marking, securitylabel element)."""
    r = await send_iq(client, "<catalog xmlns='%s' to='%s'/>" % (NS_CAT, target), to=domain)
    if r["type"] != "result":
        raise TestFailure("catalog request for %s failed: %s" % (target, r))
    cat = r.xml.find("{%s}catalog" % NS_CAT)
    if cat is None:
        raise TestFailure("catalog result without <catalog/>: %s" % r)
    items = []
    for item in cat.findall("{%s}item" % NS_CAT):
        sl = item.find("{%s}securitylabel" % NS_SL)
        if sl is None:
            raise TestFailure("catalog item without <securitylabel/>: %s" % r)
        dm = sl.find("{%s}displaymarking" % NS_SL)
        items.append((item.get("selector") or "", (dm.text or "") if dm is not None else "", sl))
    return items


def pick(items, classification):
    """The <securitylabel/> (as XML text) of the catalog item for exactly
    `classification` with no categories: its marking is the classification
    name alone, or its selector ends with it."""
    for sel, marking, sl in items:
        if marking.strip().upper() == classification.upper():
            return xml_string(sl)
    for sel, marking, sl in items:
        if sel.split("|")[-1].strip().upper() == classification.upper():
            return xml_string(sl)
    raise TestFailure("no catalog item for %s among %s" % (classification,
                                                          [(s, m) for s, m, _ in items]))


def labelled_message(to, body, label_xml, mid, mtype="chat"):
    return ("<message to='%s' type='%s' id='%s'><body>%s</body>%s</message>"
            % (to, mtype, mid, body, label_xml))


def is_error(st, mid, condition):
    if st["id"] != mid or st["type"] != "error":
        return False
    return st.xml.find("{jabber:client}error/{%s}%s" % (NS_STANZAS, condition)) is not None


def error_text(st):
    t = st.xml.find("{jabber:client}error/{%s}text" % NS_STANZAS)
    return t.text if t is not None else None


def mentions(st, token):
    """Does the stanza carry `token` anywhere (body, forwarded copies...)?"""
    return token in str(st)
