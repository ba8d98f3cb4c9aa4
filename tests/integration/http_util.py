"""Helpers for the HTTP tests (70-76): a WebSocket XMPP client built on
harness.RawClient (RFC 6455 framing by hand, RFC 7395 <open/>/<close/>),
and small HTTP request helpers over raw sockets (loopback only)."""

import base64
import hashlib
import os
import re
import socket
import ssl
import struct
import time

import harness
from harness import RawClient, TestFailure

NS_FRAMING = "urn:ietf:params:xml:ns:xmpp-framing"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def connect_http(srv, tls=False, timeout=None):
    port = srv.https_port if tls else srv.http_port
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout or harness.TIMEOUT)
    if tls:
        s = tls_context().wrap_socket(s, server_hostname=srv.domain)
    return s


def wait_http(srv, timeout=10):
    """The workers open the HTTP ports just after the c2s port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", srv.http_port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TestFailure("the http port did not open")


def read_response(sock, head=False):
    """Read one HTTP/1.1 response; returns (status, headers, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            if not data:
                return None, {}, b""
            break
        data += chunk
    head_part, _, rest = data.partition(b"\r\n\r\n")
    lines = head_part.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    body = rest
    if head:
        return status, headers, b""
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(body) < n:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        body = body[:n]
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while not body.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        out, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            out += rest[:size]
            rest = rest[size + 2:]
        body = out
    return status, headers, body


def request(srv, method, path, headers=None, body=b"", tls=False, sock=None):
    """One request; returns (status, headers, body). A given sock is reused
    (keep-alive) and left open."""
    own = sock is None
    s = sock or connect_http(srv, tls)
    try:
        h = {"Host": "%s:%d" % (srv.domain, srv.https_port if tls else srv.http_port)}
        h.update(headers or {})
        if body:
            h["Content-Length"] = str(len(body))
        req = "%s %s HTTP/1.1\r\n" % (method, path)
        req += "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
        s.sendall(req.encode("latin-1") + body)
        return read_response(s, head=(method == "HEAD"))
    finally:
        if own:
            s.close()


class WsClient(RawClient):
    """RawClient over RFC 7395: each send() is one text message, received
    messages are appended to the text expect() searches."""

    def __init__(self, srv, tls=False, path="/xmpp-websocket", protocol="xmpp",
                 timeout=None):
        super().__init__(srv, port=srv.https_port if tls else srv.http_port, connect=True,
                         timeout=timeout)
        if tls:
            self.sock = tls_context().wrap_socket(self.sock, server_hostname=srv.domain)
            self.tls = True
        self.raw = b""
        self.messages = []
        self.close_code = None
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n" % (path, srv.domain, key))
        if protocol:
            req += "Sec-WebSocket-Protocol: %s\r\n" % protocol
        self.sock.sendall((req + "\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, self.raw = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1]) if lines and lines[0] else None
        self.http_headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.http_headers[k.strip().lower()] = v.strip()
        if self.status == 101:
            want = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
            if self.http_headers.get("sec-websocket-accept") != want:
                raise TestFailure("bad Sec-WebSocket-Accept")

    # -- framing (RFC 6455 §5.2)
    def send_frame(self, opcode, payload, fin=True):
        mask = os.urandom(4)
        n = len(payload)
        hdr = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(hdr + mask + masked)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.send_frame(1, data)

    def _frames(self):
        """Parse complete frames from self.raw."""
        out = []
        while len(self.raw) >= 2:
            b0, b1 = self.raw[0], self.raw[1]
            n, off = b1 & 0x7F, 2
            if n == 126:
                if len(self.raw) < 4:
                    break
                n, off = struct.unpack("!H", self.raw[2:4])[0], 4
            elif n == 127:
                if len(self.raw) < 10:
                    break
                n, off = struct.unpack("!Q", self.raw[2:10])[0], 10
            if b1 & 0x80:
                raise TestFailure("the server masked a frame")
            if len(self.raw) < off + n:
                break
            out.append((b0 & 0x80 != 0, b0 & 0x0F, self.raw[off:off + n]))
            self.raw = self.raw[off + n:]
        return out

    def _read_once(self, timeout):
        if self.eof:
            return True
        got = False
        frames = self._frames()
        if not frames:
            self.sock.settimeout(max(timeout, 0.001))
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError, BlockingIOError):
                return False
            except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
                data = b""
            if not data:
                self.eof = True
                return True
            self.raw += data
            frames = self._frames()
        for fin, op, payload in frames:
            got = True
            if op == 8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                try:
                    self.send_frame(8, payload[:2])
                except OSError:
                    pass
                self.eof = True
            elif op == 9:
                self.send_frame(10, payload)
            elif op in (1, 0):
                text = payload.decode("utf-8")
                if op == 1 and not fin:
                    raise TestFailure("fragmented message from the server (allowed, not expected)")
                self.messages.append(text)
                self.buf += text
                self.received += text
        return got or True

    # -- RFC 7395 stream level
    def open(self, to=None, features=True, **kw):
        to = self.domain if to is None else to
        attrs = " to='%s'" % to if to else ""
        self.send("<open xmlns='%s'%s version='1.0'/>" % (NS_FRAMING, attrs))
        m = self.expect(r"<open\b[^>]*/>")
        self.header = harness._attrs(m.group(0))
        self.header_text = m.group(0)
        self.stream_prefix = "stream"
        if not features:
            return self.header
        return self.expect_features()

    def login(self, user, password, resource=None, mech=None):
        self.open()
        self.auth(user, password, mech or "SCRAM-SHA-256")
        return self.bind(resource)

    def close_stream(self):
        self.send("<close xmlns='%s'/>" % NS_FRAMING)

    def expect_stream_error(self, condition, timeout=None):
        conds = (condition,) if isinstance(condition, str) else tuple(condition)
        m = self.expect(r"<stream:error\b[^>]*>(.*?)</stream:error>", timeout)
        cm = re.search(r"<([\w-]+)\b", m.group(1))
        if not cm or cm.group(1) not in conds:
            raise TestFailure("expected stream error %s, got %s" % (conds, m.group(0)))
        self.expect(r"<close xmlns='%s'/>" % NS_FRAMING, timeout)
        if not self.closed(timeout):
            raise TestFailure("stream error sent but the WebSocket stays open")
        return cm.group(1)


NS_HTTPBIND = "http://jabber.org/protocol/httpbind"


class BoshClient:
    """A BOSH (XEP-0124/0206) client over raw HTTP requests; each request is
    its own connection unless keep is given. Received stanzas are appended
    to .text (like RawClient's input)."""

    def __init__(self, srv, tls=False, wait=10, hold=1):
        self.srv = srv
        self.tls = tls
        self.rid = secrets_rid()
        self.sid = None
        self.wait = wait
        self.hold = hold
        self.text = ""

    def post(self, inner="", attrs="", timeout=None):
        self.rid += 1
        return self.post_rid(self.rid, inner, attrs, timeout)

    def post_rid(self, rid, inner="", attrs="", timeout=None):
        sid = " sid='%s'" % self.sid if self.sid else ""
        body = ("<body rid='%d'%s%s xmlns='%s' xmlns:xmpp='urn:xmpp:xbosh'>%s</body>"
                % (rid, sid, attrs, NS_HTTPBIND, inner)).encode()
        s = connect_http(self.srv, self.tls, timeout=timeout or harness.TIMEOUT + self.wait)
        try:
            status, headers, data = request(self.srv, "POST", "/http-bind", body=body,
                                            headers={"Content-Type": "text/xml; charset=utf-8"},
                                            tls=self.tls, sock=s)
        finally:
            s.close()
        text = data.decode("utf-8")
        self.text += text
        return status, text

    def create(self, to=None):
        status, text = self.post(attrs=" to='%s' wait='%d' hold='%d' xml:lang='en' "
                                       "xmpp:version='1.0' ver='1.11'"
                                 % (to or self.srv.domain, self.wait, self.hold))
        if status != 200:
            raise TestFailure("session creation: HTTP %s %s" % (status, text))
        m = re.search(r"\bsid='([^']+)'", text)
        if not m:
            raise TestFailure("no sid: %s" % text)
        self.sid = m.group(1)
        while "<stream:features" not in text:
            status, more = self.post()
            text += more
        return text

    def until(self, regex, timeout=None):
        """Poll (each request is held up to 'wait') until regex matches the
        received text; returns the match and consumes up to it."""
        deadline = time.monotonic() + (timeout or harness.TIMEOUT)
        while True:
            m = re.search(regex, self.text, re.S)
            if m:
                self.text = self.text[m.end():]
                return m
            if time.monotonic() > deadline:
                raise TestFailure("BOSH: timeout waiting for /%s/; got %r" % (regex, self.text[-800:]))
            self.post()

    def auth(self, user, password, mech="SCRAM-SHA-256"):
        user = user.split("@")[0]
        scram = harness.ScramClient(mech, user, password)
        _, text = self.post("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='%s'>%s</auth>"
                            % (mech, base64.b64encode(scram.first()).decode()))
        self.text = text
        m = self.until(r"<challenge[^>]*>([^<]*)</challenge>")
        final = scram.final(base64.b64decode(m.group(1)))
        self.post("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>%s</response>"
                  % base64.b64encode(final).decode())
        m = self.until(r"<(success|failure)[^>]*?(?:/>|>(.*?)</\1>)")
        if m.group(1) != "success":
            raise TestFailure("SASL failed: %s" % m.group(0))
        scram.verify(base64.b64decode(m.group(2)))
        # XEP-0206 §5: restart
        self.text = ""
        _, text = self.post(attrs=" xmpp:restart='true' to='%s' xml:lang='en'" % self.srv.domain)
        self.text = text
        self.until(r"<stream:features.*?</stream:features>")

    def bind(self, resource):
        self.post("<iq type='set' id='b1' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                  "<resource>%s</resource></bind></iq>" % resource)
        m = self.until(r"<jid>([^<]+)</jid>")
        return m.group(1)

    def terminate(self):
        return self.post(attrs=" type='terminate'",
                         inner="<presence type='unavailable' xmlns='jabber:client'/>")


def secrets_rid():
    return int.from_bytes(os.urandom(4), "big") + 1000
