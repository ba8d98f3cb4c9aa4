"""roster_peer.py - a raw XMPP client for the roster and presence tests
(10-14): logs in with harness.RawClient, then parses every stanza it
receives into an ElementTree element kept in an inbox, so a test can wait
for stanzas in any order and check that others never came.

    p = await Peer.login(srv, "alice@localhost", "pw", "phone")
    await p.roster()                      # becomes an interested resource
    p.send("<presence/>")
    st = await p.wait(lambda s: is_presence(s, frm="bob@localhost/pc"))
    await p.none(lambda s: s.tag == C("message"), wait=1)
"""

import asyncio
import secrets
import time
import xml.etree.ElementTree as ET

import harness
from harness import RawClient, TestFailure

NS_CLIENT = "jabber:client"
NS_ROSTER = "jabber:iq:roster"
NS_STANZAS = harness.NS_STANZAS


def C(name):
    """A jabber:client element tag."""
    return "{%s}%s" % (NS_CLIENT, name)


def R(name):
    return "{%s}%s" % (NS_ROSTER, name)


def show(el):
    return ET.tostring(el, encoding="unicode") if el is not None else "(none)"


def error_condition(el):
    """The defined condition of a stanza error, or None."""
    err = el.find(C("error"))
    if err is None:
        return None
    for child in err:
        if child.tag.startswith("{%s}" % NS_STANZAS) and not child.tag.endswith("}text"):
            return child.tag.split("}", 1)[1]
    return None


def is_presence(el, frm=None, type=None, to=None):
    """A presence stanza; type None means available (no type attribute)."""
    if el.tag != C("presence"):
        return False
    if frm is not None and el.get("from") != frm:
        return False
    if to is not None and el.get("to") != to:
        return False
    return el.get("type") == type


def is_push(el, jid=None):
    """A roster push (RFC 6121 §2.1.6), optionally about `jid`."""
    if el.tag != C("iq") or el.get("type") != "set":
        return False
    q = el.find(R("query"))
    if q is None:
        return False
    item = q.find(R("item"))
    return item is not None and (jid is None or item.get("jid") == jid)


def push_item(el):
    return el.find(R("query")).find(R("item"))


class Peer:
    """One logged-in resource."""

    def __init__(self, raw, bare, resource):
        self.raw = raw
        self.bare = bare
        self.jid = raw.jid
        self.resource = resource
        self.inbox = []
        self.all = []
        self._depth = 0
        self._parser = ET.XMLPullParser(events=("start", "end"))
        self._parser.feed("<stream xmlns='%s'>" % NS_CLIENT)
        self._root = None
        self.closed = False

    @classmethod
    async def login(cls, srv, bare, password, resource=None):
        resource = resource or "r" + secrets.token_hex(3)
        raw = RawClient(srv)
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: raw.login(bare.split("@")[0], password, resource))
        return cls(raw, bare, resource)

    # -- input
    def _feed(self):
        data, self.raw.buf = self.raw.buf, ""
        if not data or self.closed:
            return
        if "</stream:stream>" in data:
            data = data.split("</stream:stream>")[0]
            self.closed = True
        self._parser.feed(data)
        for event, el in self._parser.read_events():
            if event == "start":
                self._depth += 1
                if self._depth == 1:
                    self._root = el
            else:
                self._depth -= 1
                if self._depth == 1:
                    self.inbox.append(el)
                    self.all.append(el)
                    self._root.remove(el)

    def pump(self, timeout=0.0):
        self.raw._read_once(timeout)
        self._feed()

    async def wait(self, pred, timeout=None, what="stanza"):
        """The first unconsumed stanza matching pred (consumed)."""
        timeout = harness.TIMEOUT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            self._feed()
            for el in self.inbox:
                try:
                    ok = pred(el)
                except Exception:
                    ok = False
                if ok:
                    self.inbox.remove(el)
                    return el
            if time.monotonic() > deadline or self.raw.eof:
                got = "\n".join("#   " + show(e)[:300] for e in self.all[-8:]) or "#   (nothing)"
                raise TestFailure("%s: no %s within %.1f s; last received:\n%s"
                                  % (self.jid, what, timeout, got))
            if not self.raw._read_once(0.001):
                await asyncio.sleep(0.02)

    async def none(self, pred, wait=1.0, what="unexpected stanza"):
        """Fail if a stanza matching pred arrives within `wait` seconds
        (stanzas already consumed count too)."""
        deadline = time.monotonic() + harness.scaled(wait)
        while time.monotonic() < deadline and not self.raw.eof:
            if not self.raw._read_once(0.001):
                await asyncio.sleep(0.02)
        self._feed()
        for el in self.all:
            try:
                bad = pred(el)
            except Exception:
                bad = False
            if bad:
                raise TestFailure("%s: %s: %s" % (self.jid, what, show(el)[:400]))

    def forget(self):
        """Drop everything received so far (for later none() checks)."""
        self._feed()
        self.inbox.clear()
        self.all.clear()

    # -- output
    def send(self, xml):
        self.raw.send(xml)

    async def iq(self, payload, type="get", to=None):
        """Send an IQ and return its reply (result or error) element."""
        id = "iq-" + secrets.token_hex(4)
        to_attr = " to='%s'" % to if to else ""
        self.send("<iq type='%s' id='%s'%s>%s</iq>" % (type, id, to_attr, payload))
        return await self.wait(lambda s: s.tag == C("iq") and s.get("id") == id and
                               s.get("type") in ("result", "error"), what="reply to iq " + id)

    async def roster(self):
        """Roster get (makes this an interested resource); returns
        {jid: item element}."""
        reply = await self.iq("<query xmlns='%s'/>" % NS_ROSTER)
        if reply.get("type") != "result":
            raise TestFailure("roster get failed: %s" % show(reply))
        q = reply.find(R("query"))
        if q is None:
            raise TestFailure("roster result without query: %s" % show(reply))
        return {item.get("jid"): item for item in q.findall(R("item"))}

    async def roster_set(self, jid, name=None, groups=(), remove=False, expect="result"):
        attrs = " jid='%s'" % jid
        if name is not None:
            attrs += " name='%s'" % name
        if remove:
            attrs += " subscription='remove'"
        body = "".join("<group>%s</group>" % g for g in groups)
        reply = await self.iq("<query xmlns='%s'><item%s>%s</item></query>" % (NS_ROSTER, attrs, body),
                              type="set")
        if expect == "result":
            if reply.get("type") != "result":
                raise TestFailure("roster set of %s failed: %s" % (jid, show(reply)))
        elif error_condition(reply) != expect:
            raise TestFailure("roster set of %s: expected <%s/>, got %s" % (jid, expect, show(reply)))
        return reply

    def presence(self, to=None, type=None, inner=""):
        attrs = ""
        if to:
            attrs += " to='%s'" % to
        if type:
            attrs += " type='%s'" % type
        self.send("<presence%s>%s</presence>" % (attrs, inner) if inner else "<presence%s/>" % attrs)

    async def online(self):
        """Roster get, then initial presence; waits for our own presence to
        come back (RFC 6121 §4.2.2: it is broadcast to the sender too)."""
        await self.roster()
        self.presence()
        await self.wait(lambda s: is_presence(s, frm=self.jid), what="own initial presence")

    def close(self):
        try:
            self.send("</stream:stream>")
        except OSError:
            pass
        self.raw.close()


def item_state(item):
    """(subscription, ask, approved) of a roster item element."""
    if item is None:
        return None
    return (item.get("subscription"), item.get("ask"), item.get("approved"))


async def users(srv, n, prefix="u"):
    """n fresh registered users: [(bare, password)]."""
    loop = asyncio.get_running_loop()
    return [await loop.run_in_executor(None, srv.new_user, prefix) for _ in range(n)]
