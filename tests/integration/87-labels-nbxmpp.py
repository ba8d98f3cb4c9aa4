#!/usr/bin/python3
"""87-labels-nbxmpp: interop of the XEP-0258 wire format with Gajim's XMPP
library, nbxmpp (Debian python3-nbxmpp), as a real client of the real
server. nbxmpp logs in (over STARTTLS, then over WebSocket), asks the server
for a catalog with its SecurityLabels module and must parse every item, the
default included; a label it took from that catalog is sent back by another
user's client, and nbxmpp's message handler must find it on the delivered
message with the policy's display marking and colours. A message above
nbxmpp's user's clearance must not reach it at all."""

import os
import re
import secrets
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import RawClient, Server, TestFailure, run_tests  # noqa: E402
from labels_util import user  # noqa: E402

try:
    import gi
    gi.require_version("Gio", "2.0")
    gi.require_version("GLib", "2.0")
    from gi.repository import Gio, GLib
    from nbxmpp.client import Client
    from nbxmpp.const import ConnectionProtocol, ConnectionType
    from nbxmpp.namespaces import Namespace
    from nbxmpp.protocol import Presence
    from nbxmpp.structs import StanzaHandler
except ImportError as e:  # scripts/deps.sh installs python3-nbxmpp
    print("Bail out! python3-nbxmpp is not installed (%s)" % e)
    sys.exit(1)

srv = Server()


class NbSession:
    """One nbxmpp client driven by a GLib main loop until `done` or a timeout."""

    def __init__(self, bare, password, websocket=False):
        self.loop = GLib.MainLoop()
        self.error = None
        self.messages = []
        self.connected = False
        c = Client()
        local, domain = bare.split("@")
        c.set_domain(domain)
        c.set_username(local)
        c.set_resource("nbxmpp")
        c.set_password(password)
        if websocket:
            c.set_custom_host("ws://127.0.0.1:%d/xmpp-websocket" % srv.http_port,
                              ConnectionProtocol.WEBSOCKET, ConnectionType.PLAIN)
        else:
            c.set_custom_host("127.0.0.1:%d" % srv.c2s_port, ConnectionProtocol.TCP,
                              ConnectionType.START_TLS)
        # the instance's self-signed certificate
        c.set_ignored_tls_errors({Gio.TlsCertificateFlags.UNKNOWN_CA,
                                  Gio.TlsCertificateFlags.BAD_IDENTITY,
                                  Gio.TlsCertificateFlags.GENERIC_ERROR})
        c.subscribe("connected", self._connected)
        c.subscribe("connection-failed", lambda *a: self.fail("connection failed"))
        c.subscribe("disconnected", lambda *a: self.connected or self.fail("disconnected"))
        c.register_handler(StanzaHandler(name="message", callback=self._message,
                                         priority=60))
        self.client = c
        self.then = None

    def fail(self, why):
        if self.error is None:
            self.error = why
        self.loop.quit()

    def _connected(self, *args):
        self.connected = True
        self.client.send_stanza(Presence())
        if self.then:
            self.then()

    def _message(self, _client, stanza, properties):
        self.messages.append((stanza, properties))

    def run(self, until, timeout):
        """Run the loop until until() is true (checked every 50 ms)."""
        deadline = time.monotonic() + timeout

        def tick():
            if self.error or until() or time.monotonic() > deadline:
                self.loop.quit()
                return False
            return True
        GLib.timeout_add(50, tick)
        self.loop.run()
        if self.error:
            raise TestFailure("nbxmpp: %s" % self.error)
        if not until():
            raise TestFailure("nbxmpp: timed out")

    def close(self):
        self.connected = False
        self.client.disconnect()
        end = time.monotonic() + 2
        ctx = GLib.MainContext.default()
        while time.monotonic() < end and ctx.pending():
            ctx.iteration(False)


def catalog_and_labelled_message(websocket):
    a, apw = user(srv, "alice", "TOP SECRET")
    b, bpw = user(srv, "bob", "SECRET")
    nb = NbSession(b, bpw, websocket)
    result = {}

    def got_catalog(task):
        try:
            result["catalog"] = task.finish()
        except Exception as e:  # noqa: BLE001 - report what nbxmpp raised
            nb.fail("catalog request failed: %r" % e)

    nb.then = lambda: nb.client.get_module("SecurityLabels").request_catalog(
        a, callback=got_catalog)
    nb.client.connect()
    nb.run(lambda: "catalog" in result, harness.TIMEOUT * 3)
    cat = result["catalog"]
    names = cat.get_label_names()
    if len(names) < 3 or cat.default not in names:
        raise TestFailure("nbxmpp parsed %d catalog items, default %r: %s"
                          % (len(names), cat.default, names))
    secret = [n for n in names if cat.labels[n].displaymarking
              and cat.labels[n].displaymarking.name == "SECRET"]
    if not secret:
        raise TestFailure("no plain SECRET label among %s"
                          % [(n, cat.labels[n].displaymarking) for n in names])
    label = cat.labels[secret[0]]
    if label.displaymarking.bgcolor in ("", "#FFF") or label.label is None:
        raise TestFailure("display marking colours or <label/> lost: %r" % label)
    # alice sends bob a message with the label nbxmpp built from the catalog
    alice = RawClient(srv)
    alice.login(a.split("@")[0], apw, "desk")
    body = "interop-" + secrets.token_hex(4)
    alice.send("<message to='%s/nbxmpp' type='chat' id='%s'><body>%s</body>%s</message>"
               % (b, body, body, str(label.to_node())))
    nb.run(lambda: any(s.getBody() == body for s, _ in nb.messages), harness.TIMEOUT * 2)
    stanza, props = next((s, p) for s, p in nb.messages if s.getBody() == body)
    sl = props.security_label
    if sl is None or sl.displaymarking is None or sl.displaymarking.name != "SECRET":
        raise TestFailure("nbxmpp found no SECRET security label on the message: %s" % stanza)
    if stanza.getTag("securitylabel", namespace=Namespace.SECLABEL) is None:
        raise TestFailure("label missing on the wire")
    # a TOP SECRET message for bob (cleared SECRET) never reaches nbxmpp
    alice.send("<iq type='get' id='cat1' to='%s'><catalog xmlns='urn:xmpp:sec-label:catalog:2'"
               " to='%s'/></iq>" % (srv.domain, a))
    items = alice.expect(r"<iq\b[^>]*id='cat1'.*?</iq>").group(0)
    top = next((m.group(0) for m in re.finditer(r"<securitylabel\b.*?</securitylabel>", items)
                if re.search(r">TOP SECRET</displaymarking>", m.group(0))), None)
    if not top:
        raise TestFailure("no TOP SECRET label in alice's catalog: %s" % items[:400])
    if "xmlns=" not in top.split(">")[0]:
        top = top.replace("<securitylabel", "<securitylabel xmlns='urn:xmpp:sec-label:0'", 1)
    hidden = "hidden-" + secrets.token_hex(4)
    alice.send("<message to='%s/nbxmpp' type='chat'><body>%s</body>%s</message>"
               % (b, hidden, top))
    t_end = time.monotonic() + 0.8
    nb.run(lambda: time.monotonic() > t_end, 5)
    if any(s.getBody() == hidden for s, _ in nb.messages):
        raise TestFailure("a message above the clearance reached nbxmpp")
    alice.close()
    nb.close()


def test_nbxmpp_tcp(srv):
    catalog_and_labelled_message(websocket=False)


def test_nbxmpp_websocket(srv):
    catalog_and_labelled_message(websocket=True)


if __name__ == "__main__":
    run_tests([test_nbxmpp_tcp, test_nbxmpp_websocket], srv)
