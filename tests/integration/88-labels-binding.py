#!/usr/bin/python3
"""88-labels-binding: labels the server applies, bound with its own key
(STANAG 4778, XML signature over label and body). With
security.label_unlabelled the server puts the default label on a message a
client sent without one; with security.binding_key/binding_cert it signs a
binding of the message's label to its body (its own label or the client's).
A downstream system verifies it: here the server itself, trusting its
certificate through security.binding_ca, accepts the bound message sent on
unchanged and refuses it with the body or the label altered. The key pair is
a test fixture made by the test with openssl, never kept."""

import atexit
import os
import re
import secrets
import shutil
import subprocess
import tempfile

from harness import RawClient, Server, TestFailure, run_tests

tmp = tempfile.mkdtemp(prefix="aldis-binding-")
atexit.register(shutil.rmtree, tmp, True)
KEY, CERT = os.path.join(tmp, "binding.key"), os.path.join(tmp, "binding.crt")
subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", KEY, "-out", CERT, "-days", "2", "-subj",
                "/CN=aldis label binding test"], check=True, capture_output=True)

srv = Server(config={"security.label_unlabelled": True, "security.binding_key": KEY,
                     "security.binding_cert": CERT, "security.binding_ca": CERT})
NS_BIND = "urn:nato:stanag:4778:bindinginformation:1:0"


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def login(prefix):
    jid, pw = srv.new_user(prefix)
    r = RawClient(srv)
    r.login(jid.split("@")[0], pw, "r")
    return jid, r


def message_with(r, token):
    m = r.expect(r"<message\b(?:(?!</message>).)*%s.*?</message>" % token)
    return m.group(0)


def inner(msg):
    """The label and binding elements of a received message, and its body."""
    sl = re.search(r"<securitylabel\b.*?</securitylabel>", msg, re.S)
    bind = re.search(r"<(\w+:)?MetadataBindingContainer\b.*?</(\w+:)?MetadataBindingContainer>",
                     msg, re.S)
    return sl.group(0) if sl else None, bind.group(0) if bind else None


async def test_default_label_applied_and_bound(srv):
    a, alice = login("alice")
    b, bob = login("bob")
    c, carol = login("carol")
    body = "plain-" + secrets.token_hex(4)
    alice.send("<message to='%s/r' type='chat'><body>%s</body></message>" % (b, body))
    got = message_with(bob, body)
    sl, bind = inner(got)
    check(sl and "UNCLASSIFIED" in sl, "no default label applied: %s" % got)
    check(bind and NS_BIND in bind and "SignatureValue" in bind,
          "no STANAG 4778 binding on the message: %s" % got)
    # sent on unchanged (label, binding, body): the binding verifies
    fwd = "<message to='%s/r' type='chat' id='ok'><body>%s</body>%s%s</message>" % (c, body, sl, bind)
    bob.send(fwd)
    check(body in message_with(carol, body), "the bound message was not accepted")
    # the body altered under the binding: refused as malformed
    bad = fwd.replace(">%s<" % body, ">%s-altered<" % body).replace("id='ok'", "id='bad'")
    bob.send(bad)
    err = bob.expect(r"<message\b[^>]*id='bad'[^>]*type='error'.*?</message>|"
                     r"<message\b[^>]*type='error'[^>]*id='bad'.*?</message>").group(0)
    check("bad-request" in err, "altered body: %s" % err)
    for r in (alice, bob, carol):
        r.close()


async def test_client_label_bound(srv):
    a, alice = login("dave")
    b, bob = login("erin")
    # the client's own label (taken from the server's catalog) gets bound too
    alice.send("<iq type='get' id='cat' to='%s'><catalog xmlns='urn:xmpp:sec-label:catalog:2' "
               "to='%s'/></iq>" % (srv.domain, b))
    items = alice.expect(r"<iq\b[^>]*id='cat'.*?</iq>").group(0)
    sl = re.search(r"<securitylabel\b.*?</securitylabel>", items, re.S).group(0)
    if "xmlns=" not in sl.split(">")[0]:
        sl = sl.replace("<securitylabel", "<securitylabel xmlns='urn:xmpp:sec-label:0'", 1)
    body = "labelled-" + secrets.token_hex(4)
    alice.send("<message to='%s/r' type='chat'><body>%s</body>%s</message>" % (b, body, sl))
    got = message_with(bob, body)
    _, bind = inner(got)
    check(bind and "SignatureValue" in bind, "the client's label was not bound: %s" % got)
    # presence and body-less messages are left alone
    alice.send("<message to='%s/r' type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/>"
               "<thread>t-%s</thread></message>" % (b, body))
    got = message_with(bob, "t-" + body)
    check("MetadataBindingContainer" not in got and "securitylabel" not in got,
          "a body-less message was labelled or bound: %s" % got)
    alice.close()
    bob.close()


if __name__ == "__main__":
    run_tests([test_default_label_applied_and_bound, test_client_label_bound], srv)
