#!/usr/bin/python3
"""47-carbons-archive-id: a sent carbon carries the sender's archive id
(XEP-0313 §3.5, XEP-0359) inside the forwarded message, the same id the
sender's archive returns for it; the recipient's copy never carries it."""

import re

from harness import RawClient, Server, TestFailure, run_tests

srv = Server()


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


async def test_sent_carbon_has_archive_id(srv):
    alice, apw = srv.new_user()
    bob, bpw = srv.new_user()
    a1, a2, b = RawClient(srv), RawClient(srv), RawClient(srv)
    a1.login(alice, apw, "one")
    a2.login(alice, apw, "two")
    b.login(bob, bpw, "desk")
    for c in (a1, a2, b):
        c.send("<presence/>")
    a2.send("<iq type='set' id='cb'><enable xmlns='urn:xmpp:carbons:2'/></iq>")
    a2.expect(r"<iq\b[^>]*id=['\"]cb['\"]")
    a1.send("<message to='%s' type='chat' id='m1'><body>archived and carbon-copied</body></message>" % bob)
    sent = a2.expect(r"<sent xmlns=['\"]urn:xmpp:carbons:2['\"]>.*?</sent>").group(0)
    m = re.search(r"<stanza-id xmlns=['\"]urn:xmpp:sid:0['\"] by=['\"]([^'\"]+)['\"] id=['\"]([^'\"]+)['\"]", sent)
    check(m and m.group(1) == alice, "no stanza-id by %s in the sent carbon: %s" % (alice, sent))
    got = b.expect(r"<message\b.*?</message>").group(0)
    check(alice not in re.findall(r"by=['\"]([^'\"]+)['\"]", got),
          "the sender's archive id leaked to the recipient: %s" % got)
    a1.send("<iq type='set' id='q'><query xmlns='urn:xmpp:mam:2' queryid='f'/></iq>")
    a1.expect(r"<iq\b[^>]*id=['\"]q['\"]")
    ids = re.findall(r"<result xmlns=['\"]urn:xmpp:mam:2['\"] queryid=['\"]f['\"] id=['\"]([^'\"]+)['\"]", a1.received)
    check(m.group(2) in ids, "carbon id %s is not the archive's (%s)" % (m.group(2), ids))
    for c in (a1, a2, b):
        c.close()


run_tests([test_sent_carbon_has_archive_id], srv)
