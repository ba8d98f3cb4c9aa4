#!/usr/bin/python3
"""28-blocking: mod_blocking (XEP-0191): the block list protocol with its
pushes (§5.2-§5.5), JID matching (§4), inbound and outbound enforcement
(§5.3), presence on block and unblock, persistence."""

import asyncio
import secrets
import xml.etree.ElementTree as ET

import harness
from harness import Server, TestFailure, assert_no_stanza, connect, run_tests, wait_stanza
from slixmpp.exceptions import IqError

NS = "urn:xmpp:blocking"
NS_ERR = "urn:xmpp:blocking:errors"


iq = harness.send_iq  # an IQ with a raw payload; the reply, result or error


def expect(reply, kind, condition=None):
    if reply["type"] != kind or (condition and reply["error"]["condition"] != condition):
        raise TestFailure("expected %s %s, got %s" % (kind, condition or "", reply))
    return reply


def items(jids):
    return "".join("<item jid='%s'/>" % j for j in jids)


async def blocklist(client):
    r = expect(await iq(client, "<blocklist xmlns='%s'/>" % NS), "result")
    return sorted(i.get("jid") for i in r.xml.iter("{%s}item" % NS))


async def block(client, *jids):
    return expect(await iq(client, "<block xmlns='%s'>%s</block>" % (NS, items(jids)),
                           type="set"), "result")


async def unblock(client, *jids):
    return expect(await iq(client, "<unblock xmlns='%s'>%s</unblock>" % (NS, items(jids)),
                           type="set"), "result")


def tag():
    return "b-" + secrets.token_hex(4)


async def pair(srv):
    rbare, rpw = srv.new_user("romeo")
    jbare, jpw = srv.new_user("juliet")
    romeo = await connect(srv, rbare + "/orchard", rpw)
    juliet = await connect(srv, jbare + "/balcony", jpw)
    return romeo, juliet


def is_blocked_error(st, text=None):
    if st["type"] != "error" or st["error"]["condition"] != "not-acceptable":
        return False
    if st.xml.find("{jabber:client}error/{%s}blocked" % NS_ERR) is None:
        return False
    return text is None or st.name != "message" or st["body"] == text


async def test_list_block_unblock(srv):
    romeo, juliet = await pair(srv)
    if await blocklist(juliet):
        raise TestFailure("a new account has a non-empty block list")
    rb = romeo.boundjid.bare
    await block(juliet, rb, "iago@" + srv.domain)
    if await blocklist(juliet) != sorted([rb, "iago@" + srv.domain]):
        raise TestFailure("block list %s" % await blocklist(juliet))
    await unblock(juliet, "iago@" + srv.domain)
    if await blocklist(juliet) != [rb]:
        raise TestFailure("after unblock: %s" % await blocklist(juliet))
    await unblock(juliet)  # all
    if await blocklist(juliet):
        raise TestFailure("after unblock-all: %s" % await blocklist(juliet))


async def test_pushes_to_interested_resources(srv):
    jbare, jpw = srv.new_user("juliet")
    j1 = await connect(srv, jbare + "/one", jpw)
    j2 = await connect(srv, jbare + "/two", jpw)
    await blocklist(j1)  # only j1 asks for the list
    target = "nurse@" + srv.domain

    def push(name):
        return lambda s: (s.name == "iq" and s["type"] == "set"
                          and s.xml.find("{%s}%s" % (NS, name)) is not None)
    await block(j2, target)
    st = await wait_stanza(j1, push("block"))
    if [i.get("jid") for i in st.xml.iter("{%s}item" % NS)] != [target]:
        raise TestFailure("block push %s" % st)
    await unblock(j2)
    st = await wait_stanza(j1, push("unblock"))
    if len(list(st.xml.iter("{%s}item" % NS))):
        raise TestFailure("unblock-all push must be empty: %s" % st)
    await assert_no_stanza(j2, push("block"), wait=0.3, what="a push to a resource that "
                           "never asked for the block list")


async def test_inbound_from_blocked(srv):
    romeo, juliet = await pair(srv)
    await block(juliet, romeo.boundjid.bare)
    text = tag()
    romeo.send_message(mto=juliet.boundjid.bare, mbody=text, mtype="chat")
    err = await wait_stanza(romeo, lambda s: s.name == "message" and s["body"] == text)
    if err["type"] != "error" or err["error"]["condition"] != "service-unavailable":
        raise TestFailure("blocked sender got %s (§5.3: service-unavailable)" % err)
    r = await iq(romeo, "<query xmlns='jabber:iq:version'/>", to=juliet.boundjid.full)
    expect(r, "error", "service-unavailable")
    romeo.send_presence(pto=juliet.boundjid.full, pstatus=text)
    await assert_no_stanza(juliet, lambda s: text in str(s), wait=0.5,
                           what="a stanza from a blocked contact")
    await assert_no_stanza(romeo, lambda s: s.name == "presence" and s["type"] == "error",
                           wait=0.1, what="an error for presence (§5.3 MUST NOT)")


async def test_outbound_to_blocked(srv):
    romeo, juliet = await pair(srv)
    await block(juliet, romeo.boundjid.bare)
    text = tag()
    juliet.send_message(mto=romeo.boundjid.full, mbody=text, mtype="chat")
    err = await wait_stanza(juliet, lambda s: s.name == "message" and s["body"] == text)
    if not is_blocked_error(err, text):
        raise TestFailure("expected not-acceptable + <blocked/>, got %s" % err)
    r = await iq(juliet, "<query xmlns='jabber:iq:version'/>", to=romeo.boundjid.full)
    if not is_blocked_error(r):
        raise TestFailure("IQ to a blocked contact: %s" % r)
    juliet.send_presence(pto=romeo.boundjid.full, pstatus=text)
    err = await wait_stanza(juliet, lambda s: s.name == "presence" and s["type"] == "error")
    if not is_blocked_error(err):
        raise TestFailure("directed presence to a blocked contact: %s" % err)
    # an IQ result is not routed either, and not answered (RFC 6120 §8.2.3)
    rid = tag()
    juliet.send_raw("<iq type='result' id='%s' to='%s'/>" % (rid, romeo.boundjid.full))
    await assert_no_stanza(juliet, lambda s: s.name == "iq" and s["id"] == rid, wait=0.3,
                           what="an error for an IQ result")
    await assert_no_stanza(romeo, lambda s: text in str(s) or s["id"] == rid, wait=0.2,
                           what="a stanza to a blocked contact")
    # unblocked: it flows again
    await unblock(juliet, romeo.boundjid.bare)
    text = tag()
    juliet.send_message(mto=romeo.boundjid.full, mbody=text, mtype="chat")
    await wait_stanza(romeo, lambda s: s.name == "message" and s["body"] == text)


async def test_full_jid_item(srv):
    rbare, rpw = srv.new_user("romeo")
    jbare, jpw = srv.new_user("juliet")
    r1 = await connect(srv, rbare + "/one", rpw)
    r2 = await connect(srv, rbare + "/two", rpw)
    juliet = await connect(srv, jbare + "/balcony", jpw)
    await block(juliet, rbare + "/one")
    t1, t2 = tag(), tag()
    r1.send_message(mto=jbare, mbody=t1, mtype="chat")
    r2.send_message(mto=jbare, mbody=t2, mtype="chat")
    await wait_stanza(juliet, lambda s: s.name == "message" and s["body"] == t2)
    await wait_stanza(r1, lambda s: s.name == "message" and s["body"] == t1
                      and s["type"] == "error")
    await assert_no_stanza(juliet, lambda s: s.name == "message" and s["body"] == t1, wait=0.2)


async def test_domain_item_keeps_own_server(srv):
    romeo, juliet = await pair(srv)
    await block(juliet, srv.domain)
    text = tag()
    romeo.send_message(mto=juliet.boundjid.bare, mbody=text, mtype="chat")
    await wait_stanza(romeo, lambda s: s.name == "message" and s["body"] == text
                      and s["type"] == "error")
    # the user's own server and own account are never blocked
    expect(await iq(juliet, "<ping xmlns='urn:xmpp:ping'/>", to=srv.domain), "result")
    if await blocklist(juliet) != [srv.domain]:
        raise TestFailure("block list %s" % await blocklist(juliet))
    await unblock(juliet)


async def test_bad_requests(srv):
    _, juliet = await pair(srv)
    expect(await iq(juliet, "<block xmlns='%s'/>" % NS, type="set"), "error", "bad-request")
    expect(await iq(juliet, "<block xmlns='%s'><item jid='a@b@c/'/></block>" % NS, type="set"),
           "error", "jid-malformed")
    expect(await iq(juliet, "<block xmlns='%s'><item/></block>" % NS, type="set"), "error",
           "jid-malformed")
    if await blocklist(juliet):
        raise TestFailure("a refused block changed the list")


async def test_private_to_the_user(srv):
    romeo, juliet = await pair(srv)
    r = await iq(romeo, "<blocklist xmlns='%s'/>" % NS, to=juliet.boundjid.bare)
    expect(r, "error", "service-unavailable")


async def test_presence_on_block_and_unblock(srv):
    romeo, juliet = await pair(srv)
    # romeo subscribes to juliet: juliet's roster has romeo with 'from'
    romeo.send_presence(pto=juliet.boundjid.bare, ptype="subscribe")
    await wait_stanza(romeo, lambda s: s.name == "presence" and s["type"] == "subscribed")
    await asyncio.sleep(harness.scaled(0.5))
    juliet.send_presence(pstatus="here")
    await wait_stanza(romeo, lambda s: s.name == "presence" and s["status"] == "here")
    await block(juliet, romeo.boundjid.bare)
    await wait_stanza(romeo, lambda s: s.name == "presence" and s["type"] == "unavailable"
                      and s["from"].full == juliet.boundjid.full)
    # broadcasts no longer reach romeo
    juliet.send_presence(pstatus="hidden")
    await assert_no_stanza(romeo, lambda s: s.name == "presence" and s["status"] == "hidden",
                           wait=0.5, what="a presence broadcast to a blocked contact")
    await unblock(juliet, romeo.boundjid.bare)
    await wait_stanza(romeo, lambda s: s.name == "presence" and s["type"] != "unavailable"
                      and s["from"].full == juliet.boundjid.full and s["status"] == "hidden")


async def test_survives_restart(srv):
    jbare, jpw = srv.new_user("juliet")
    j = await connect(srv, jbare + "/balcony", jpw)
    await block(j, "tybalt@" + srv.domain)
    await harness.disconnect(j)
    srv.restart()
    j = await connect(srv, jbare + "/balcony", jpw)
    if await blocklist(j) != ["tybalt@" + srv.domain]:
        raise TestFailure("block list after restart: %s" % await blocklist(j))


if __name__ == "__main__":
    run_tests([
        test_list_block_unblock,
        test_pushes_to_interested_resources,
        test_inbound_from_blocked,
        test_outbound_to_blocked,
        test_full_jid_item,
        test_domain_item_keeps_own_server,
        test_bad_requests,
        test_private_to_the_user,
        test_presence_on_block_and_unblock,
        test_survives_restart,
    ], srv=Server())
