#!/usr/bin/python3
"""29-contact-addresses: XEP-0157 contact addresses published as XEP-0128
extended information in the server's disco#info, from modules.disco.*."""

import xml.etree.ElementTree as ET

import harness
from harness import Server, TestFailure, connect, disconnect, run_tests

INFO = "http://jabber.org/protocol/disco#info"
DATA = "jabber:x:data"

srv = Server(config={
    "modules.disco.admin-addresses": ["xmpp:admin@localhost", "mailto:admin@example.org"],
    "modules.disco.abuse-addresses": "mailto:abuse@example.org",
})


async def disco_info(client, to):
    st = client.Iq()
    st["type"] = "get"
    st["to"] = to
    st.append(ET.fromstring("<query xmlns='%s'/>" % INFO))
    return await st.send(timeout=harness.TIMEOUT)


async def test_contact_form_in_server_info(srv):
    jid, pw = srv.new_user()
    c = await connect(srv, jid + "/r", pw)
    reply = await disco_info(c, srv.domain)
    query = reply.xml.find("{%s}query" % INFO)
    forms = query.findall("{%s}x" % DATA)
    if len(forms) != 1:
        raise TestFailure("expected one extended-info form, got %d" % len(forms))
    fields = {f.get("var"): [v.text for v in f.findall("{%s}value" % DATA)]
              for f in forms[0].findall("{%s}field" % DATA)}
    if fields.get("FORM_TYPE") != ["http://jabber.org/network/serverinfo"]:
        raise TestFailure("FORM_TYPE wrong: %r" % fields.get("FORM_TYPE"))
    if fields.get("admin-addresses") != ["xmpp:admin@localhost", "mailto:admin@example.org"]:
        raise TestFailure("admin-addresses wrong: %r" % fields.get("admin-addresses"))
    if fields.get("abuse-addresses") != ["mailto:abuse@example.org"]:
        raise TestFailure("abuse-addresses wrong: %r" % fields.get("abuse-addresses"))
    if "support-addresses" in fields:
        raise TestFailure("unset fields must be left out")
    await disconnect(c)


run_tests([test_contact_form_in_server_info], srv)
