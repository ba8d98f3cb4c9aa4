#!/usr/bin/python3
"""17-sasl2-bind2: XEP-0388 Extensible SASL Profile and XEP-0386 Bind 2:
advertised after TLS, SCRAM through <authenticate/>/<challenge/>/<response/>,
<success/> with the authorization identifier and no stream restart, Bind2
with a tag and inline stream management and carbons, failures in the SASL2
namespace."""

import base64
import re

import asyncio

from harness import RawClient, ScramClient, Server, TestFailure, connect, disconnect, run_tests

SASL2 = "urn:xmpp:sasl:2"
BIND2 = "urn:xmpp:bind:0"
SM = "urn:xmpp:sm:3"
CARBONS = "urn:xmpp:carbons:2"
srv = Server()


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def b64(data):
    return base64.b64encode(data).decode()


def authenticate(r, user, password, inner="", mech="SCRAM-SHA-256"):
    """Run a SASL2 SCRAM exchange; returns the <success/> or <failure/> text."""
    sc = ScramClient(mech, user.split("@")[0], password)
    r.send("<authenticate xmlns='%s' mechanism='%s'><initial-response>%s</initial-response>"
           "<user-agent id='d4565fa7-4d72-4749-b3d3-740edbf87770'><software>aldis-tests</software>"
           "</user-agent>%s</authenticate>" % (SASL2, mech, b64(sc.first()), inner))
    m = r.expect(r"<(challenge|failure)\b[^>]*>(.*?)</\1>")
    if m.group(1) == "failure":
        return m.group(0)
    r.send("<response xmlns='%s'>%s</response>" % (SASL2, b64(sc.final(base64.b64decode(m.group(2))))))
    m = r.expect(r"<(success|failure)\b[^>]*>.*?</\1>")
    text = m.group(0)
    if m.group(1) == "success":
        ad = re.search(r"<additional-data>([^<]*)</additional-data>", text)
        check(ad, "no additional-data (SCRAM server-final) in %s" % text)
        sc.verify(base64.b64decode(ad.group(1)))
    return text


def tls_client(srv):
    r = RawClient(srv)
    r.open()
    r.starttls()
    return r


async def test_advertised_after_tls_only(srv):
    r = RawClient(srv)
    r.open()
    check("<authentication" not in r.features, "SASL2 offered before TLS: %s" % r.features)
    r.starttls()
    m = re.search(r"<authentication xmlns=['\"]%s['\"]>(.*?)</authentication>" % SASL2, r.features)
    check(m, "no SASL2 <authentication/> feature: %s" % r.features)
    check("<mechanism>SCRAM-SHA-256</mechanism>" in m.group(1), "SCRAM-SHA-256 missing")
    check(re.search(r"<bind xmlns=['\"]%s['\"]" % BIND2, m.group(1)), "Bind2 not offered inline")
    check(re.search(r"<feature var=['\"]%s['\"]" % CARBONS, m.group(1)),
          "carbons not offered as a Bind2 inline feature: %s" % m.group(1))
    r.close()


async def test_bind2_with_tag_and_sm_no_restart(srv):
    jid, pw = srv.new_user()
    r = tls_client(srv)
    text = authenticate(r, jid, pw, "<bind xmlns='%s'><tag>phone</tag><enable xmlns='%s' resume='true'/>"
                        "</bind>" % (BIND2, SM))
    check(text.startswith("<success"), "SASL2 failed: %s" % text)
    az = re.search(r"<authorization-identifier>([^<]+)</authorization-identifier>", text).group(1)
    check(az.startswith(jid + "/phone."), "bound %s, want %s/phone.*" % (az, jid))
    check(re.search(r"<bound xmlns=['\"]%s['\"]>.*<enabled xmlns=['\"]%s['\"][^>]*resume=['\"]true"
                    % (BIND2, SM), text), "no inline SM <enabled/> in %s" % text)
    # no stream restart: stanzas flow right away
    r.jid = az
    r.roundtrip()
    r.send("<r xmlns='%s'/>" % SM)
    r.expect(r"<a xmlns=['\"]%s['\"] h=['\"]1['\"]" % SM)
    r.close()


async def test_bind2_inline_carbons(srv):
    jid, pw = srv.new_user()
    peer, ppw = srv.new_user("peer")
    r = tls_client(srv)
    text = authenticate(r, jid, pw, "<bind xmlns='%s'><tag>desk</tag><enable xmlns='%s'/></bind>"
                        % (BIND2, CARBONS))
    check(text.startswith("<success"), "SASL2 failed: %s" % text)
    r.jid = re.search(r"<authorization-identifier>([^<]+)</authorization-identifier>", text).group(1)
    r.send("<presence/>")
    r.roundtrip()  # the inline enable was handled before this answer
    other = await connect(srv, jid + "/other", pw)
    sender = await connect(srv, peer + "/x", ppw)
    sender.send_message(mto=jid + "/other", mbody="carbon-check", mtype="chat")
    got = await r.aexpect(r"<message\b.*?</message>")
    check(re.search(r"<received xmlns=['\"]%s['\"]" % CARBONS, got.group(0))
          and "carbon-check" in got.group(0), "no carbon copy on the Bind2 resource: %s" % got.group(0))
    check("bind2-" not in r.received, "the inline request's answer reached the client")
    await disconnect(other)
    await disconnect(sender)
    r.close()


async def test_sasl2_without_bind2(srv):
    jid, pw = srv.new_user()
    r = tls_client(srv)
    text = authenticate(r, jid, pw)
    check(text.startswith("<success"), "SASL2 failed: %s" % text)
    az = re.search(r"<authorization-identifier>([^<]+)</authorization-identifier>", text).group(1)
    check(az == jid, "authorization identifier %s, want the bare %s" % (az, jid))
    full = r.bind("classic")  # RFC 6120 binding on the same stream
    check(full == jid + "/classic", "bound %s" % full)
    r.close()


async def test_wrong_password_fails_in_sasl2_namespace(srv):
    jid, pw = srv.new_user()
    r = tls_client(srv)
    text = authenticate(r, jid, pw + "-wrong")
    check(re.match(r"<failure xmlns=['\"]%s['\"]>\s*<not-authorized xmlns=['\"]urn:ietf:params:xml:ns:xmpp-sasl"
                   % SASL2, text), "wrong failure: %s" % text)
    # a new attempt on the same stream works
    text = authenticate(r, jid, pw)
    check(text.startswith("<success"), "retry failed: %s" % text)
    r.close()


run_tests([test_advertised_after_tls_only, test_bind2_with_tag_and_sm_no_restart,
           test_bind2_inline_carbons,
           test_sasl2_without_bind2, test_wrong_password_fails_in_sasl2_namespace], srv)
