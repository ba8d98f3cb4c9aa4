#!/usr/bin/python3
"""18-register: XEP-0077 in-band registration — off by default, offered
only over TLS when enabled, rate-limited per IP, errors for taken and bad
names and short passwords; password change and account removal (§3.2, §3.3)
for authenticated users."""

import re

from harness import RawClient, Server, TestFailure, run_tests

REG = "jabber:iq:register"
srv = Server(config={"modules.register.allow_registration": True,
                     "modules.register.min_interval": 0})
strict = Server(config={"modules.register.allow_registration": True,
                        "modules.register.min_interval": 300})
closed = Server()
counter = [0]


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def new_name():
    counter[0] += 1
    return "newuser%d" % counter[0]


def register(r, user, password):
    r.send("<iq type='set' id='reg'><query xmlns='%s'><username>%s</username><password>%s</password>"
           "</query></iq>" % (REG, user, password))
    return r.expect(r"<iq\b[^>]*id=['\"]reg['\"].*?(/>|</iq>)").group(0)


def tls(s):
    r = RawClient(s)
    r.open()
    r.starttls()
    return r


async def test_offered_only_when_enabled_and_over_tls(srv):
    r = RawClient(srv)
    r.open()
    check("iq-register" not in r.features, "registration offered before TLS")
    r.send("<iq type='get' id='g'><query xmlns='%s'/></iq>" % REG)
    r.expect_stream_error("not-authorized")
    r = tls(srv)
    check("http://jabber.org/features/iq-register" in r.features, "not offered: %s" % r.features)
    r.send("<iq type='get' id='g'><query xmlns='%s'/></iq>" % REG)
    form = r.expect(r"<iq\b[^>]*id=['\"]g['\"].*?</iq>").group(0)
    check("<username/>" in form and "<password/>" in form, "form: %s" % form)
    r.close()
    if not closed.running():
        closed.start()
    c = tls(closed)
    check("iq-register" not in c.features, "offered although not enabled")
    c.send("<iq type='get' id='g'><query xmlns='%s'/></iq>" % REG)
    c.expect_stream_error("not-authorized")


async def test_register_then_login(srv):
    user = new_name()
    r = tls(srv)
    reply = register(r, user, "s3cret-pass")
    check("type='result'" in reply or 'type="result"' in reply, "registration failed: %s" % reply)
    r.close()
    r = RawClient(srv)
    full = r.login(user + "@" + srv.domain, "s3cret-pass", "first")
    check(full.startswith(user + "@"), "login as the new user failed: %s" % full)
    r.close()
    r = tls(srv)
    reply = register(r, user, "another-pass")
    check("<conflict" in reply, "a taken name must be a conflict: %s" % reply)
    r.close()


async def test_bad_input(srv):
    r = tls(srv)
    check("<jid-malformed" in register(r, "bad@name", "s3cret-pass"), "bad user name accepted")
    check("<not-acceptable" in register(r, new_name(), "x"), "short password accepted")
    r.close()


async def test_rate_limited_per_address(srv):
    if not strict.running():
        strict.start()
    r = tls(strict)
    first = register(r, new_name(), "s3cret-pass")
    check("result" in first, "first registration failed: %s" % first)
    second = register(r, new_name(), "s3cret-pass")
    check("<resource-constraint" in second, "second registration not limited: %s" % second)
    r.close()


async def test_change_password_and_remove(srv):
    jid, pw = srv.new_user()
    r = RawClient(srv)
    r.login(jid, pw, "me")
    r.send("<iq type='set' id='pw'><query xmlns='%s'><username>%s</username><password>brand-new-pw"
           "</password></query></iq>" % (REG, jid.split("@")[0]))
    reply = r.expect(r"<iq\b[^>]*id=['\"]pw['\"].*?(/>|</iq>)").group(0)
    check("result" in reply, "password change failed: %s" % reply)
    old = RawClient(srv)
    old.open()
    old.starttls()
    check(old.auth(jid, pw, check=False) is not None, "the old password still works")
    old.close()
    other = RawClient(srv)
    other.login(jid, "brand-new-pw", "other")
    r.send("<iq type='set' id='rm'><query xmlns='%s'><remove/></query></iq>" % REG)
    reply = r.expect(r"<iq\b[^>]*id=['\"]rm['\"].*?(/>|</iq>)").group(0)
    check("result" in reply, "removal failed: %s" % reply)
    other.expect_stream_error("not-authorized")
    gone = RawClient(srv)
    gone.open()
    gone.starttls()
    check(gone.auth(jid, "brand-new-pw", check=False) is not None, "a removed account still logs in")
    gone.close()


try:
    run_tests([test_offered_only_when_enabled_and_over_tls, test_register_then_login, test_bad_input,
               test_rate_limited_per_address, test_change_password_and_remove], srv)
finally:
    for s in (strict, closed):
        if s.running():
            s.stop()
