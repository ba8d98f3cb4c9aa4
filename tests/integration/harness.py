"""harness.py - drive a real `aldis` daemon from Python integration tests.

One Server per test file: a private instance directory made by
`aldisctl init`, an aldis.yaml rewritten by us (loopback ports, worker
count, test overrides), the daemon's stderr captured to a log that is
checked for sanitizer reports when it stops. Tests talk to it through
slixmpp clients (`connect`) for whole-protocol behaviour and through
`RawClient` for wire-level cases: stream headers, errors, TLS, SASL.

Environment:
  ALDIS_BUILD     the CMake build directory (default ../../build)
  ALDIS_WORKERS   worker threads for the daemon (default 1)
  ALDIS_TEST_ONLY run only the tests whose name contains this string
  ALDIS_KEEP=1    keep the instance directory (it is kept anyway on failure)
  ALDIS_TIMEOUT_SCALE  multiply every timeout (sanitizer builds are slow;
                  detected from CMakeCache.txt when not set)
"""

import asyncio
import base64
import codecs
import ctypes
import ctypes.util
import hashlib
import hmac
import inspect
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.abspath(os.environ.get("ALDIS_BUILD") or os.path.join(HERE, "..", "..", "build"))
ALDIS = os.path.join(BUILD, "aldis")
ALDISCTL = os.path.join(BUILD, "aldisctl")
WORKERS = int(os.environ.get("ALDIS_WORKERS") or 1)

NS_STREAMS = "http://etherx.jabber.org/streams"
NS_XMPP_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session"

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ThreadSanitizer",
                     "LeakSanitizer")


def _build_option(name):
    """True when the build directory was configured with `name`=ON."""
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            cache = f.read()
    except OSError:
        return False
    return re.search(r"^%s:BOOL=ON" % name, cache, re.M) is not None


TSAN_BUILD = _build_option("ALDIS_TSAN")


def _timeout_scale():
    env = os.environ.get("ALDIS_TIMEOUT_SCALE")
    if env:
        return float(env)
    if TSAN_BUILD:
        return 3.0
    if _build_option("ALDIS_ASAN"):
        return 2.0
    return 1.0


SCALE = _timeout_scale()


def _daemon_env():
    """The daemon's environment: under TSan, the suppressions of third-party
    races (tests/tsan.supp) are added to TSAN_OPTIONS."""
    env = dict(os.environ)
    if TSAN_BUILD and "suppressions=" not in env.get("TSAN_OPTIONS", ""):
        supp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tsan.supp")
        env["TSAN_OPTIONS"] = ("suppressions=%s %s" % (os.path.abspath(supp),
                                                       env.get("TSAN_OPTIONS", ""))).strip()
    return env
DEFAULT_MECH = "SCRAM-SHA-256"  # what connect(), auth() and login() use unless told
TIMEOUT = 5.0 * SCALE  # default for every wait: failures must be fast


def scaled(seconds):
    """A timeout adjusted for slow (sanitizer) builds."""
    return seconds * SCALE


# Keep slixmpp quiet unless asked: its errors surface as test failures.
logging.basicConfig(level=logging.DEBUG if os.environ.get("ALDIS_TEST_DEBUG") else logging.CRITICAL,
                    stream=sys.stderr)


class TestFailure(AssertionError):
    pass


# ---------------------------------------------------------------------------
# A small YAML subset: enough to read what `aldisctl init` writes (block
# mappings and sequences, flow sequences of scalars, quoted scalars,
# comments) and to write our own configuration back.

def _yaml_scalar(text):
    text = text.strip()
    if text == "" or text == "~" or text == "null":
        return None
    if text[0] == '"' and text[-1] == '"' and len(text) >= 2:
        return codecs.decode(text[1:-1].encode("utf-8"), "unicode_escape")
    if text[0] == "'" and text[-1] == "'" and len(text) >= 2:
        return text[1:-1].replace("''", "'")
    if text in ("true", "True", "yes", "on"):
        return True
    if text in ("false", "False", "no", "off"):
        return False
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return [_yaml_scalar(x) for x in _split_flow(inner)] if inner else []
    if text.startswith("{") and text.endswith("}"):
        inner = text[1:-1].strip()
        out = {}
        for item in _split_flow(inner) if inner else []:
            k, _, v = item.partition(":")
            out[_yaml_scalar(k)] = _yaml_scalar(v)
        return out
    return text


def _split_flow(text):
    parts, depth, cur, quote = [], 0, "", None
    for ch in text:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            cur += ch
        elif ch in "[{":
            depth += 1
            cur += ch
        elif ch in "]}":
            depth -= 1
            cur += ch
        elif ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def _strip_comment(line):
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def yaml_load(text):
    """Parse the block-style YAML subset described above."""
    lines = []
    for raw in text.splitlines():
        if raw.strip() in ("---", "..."):
            continue
        line = _strip_comment(raw)
        if line.strip():
            lines.append((len(line) - len(line.lstrip(" ")), line.strip()))
    pos = 0

    def parse_block(indent):
        nonlocal pos
        if pos >= len(lines):
            return None
        if lines[pos][1].startswith("- ") or lines[pos][1] == "-":
            return parse_seq(lines[pos][0])
        return parse_map(lines[pos][0])

    def parse_map(indent):
        nonlocal pos
        out = {}
        while pos < len(lines) and lines[pos][0] == indent and not lines[pos][1].startswith("-"):
            key, _, rest = _split_key(lines[pos][1])
            pos += 1
            if rest.strip():
                out[key] = _yaml_scalar(rest)
            elif pos < len(lines) and (lines[pos][0] > indent or
                                       (lines[pos][0] == indent and lines[pos][1].startswith("-"))):
                out[key] = parse_block(lines[pos][0])
            else:
                out[key] = None
        return out

    def parse_seq(indent):
        nonlocal pos
        out = []
        while pos < len(lines) and lines[pos][0] == indent and (lines[pos][1].startswith("- ") or lines[pos][1] == "-"):
            item = lines[pos][1][1:].strip()
            if not item:
                pos += 1
                out.append(parse_block(lines[pos][0]) if pos < len(lines) and lines[pos][0] > indent else None)
            elif re.match(r"^[^'\"\[{][^:]*:(\s|$)", item):
                # "- key: value" starts a mapping whose other keys are
                # indented to the column of "key".
                lines[pos] = (indent + 2, item)
                out.append(parse_map(indent + 2))
            else:
                pos += 1
                out.append(_yaml_scalar(item))
        return out

    result = parse_block(0)
    return result if result is not None else {}


def _split_key(line):
    m = re.match(r"^(\"[^\"]*\"|'[^']*'|[^:]+):(?:\s+(.*)|$)", line)
    if not m:
        raise ValueError("cannot parse YAML line: %r" % line)
    return _yaml_scalar(m.group(1)), ":", m.group(2) or ""


_PLAIN_OK = re.compile(r"^[A-Za-z0-9_./@+-][A-Za-z0-9_./@:+ -]*$")


def _yaml_emit_scalar(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    s = str(v)
    if (_PLAIN_OK.match(s) and not s.endswith(" ") and
            s.lower() not in ("true", "false", "yes", "no", "on", "off", "null", "~") and
            not re.fullmatch(r"-?[\d.]+", s) and ": " not in s):
        return s
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def yaml_dump(value, indent=0):
    """Emit block-style YAML for dicts, lists and scalars."""
    pad = " " * indent
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, dict) and v:
                out.append("%s%s:" % (pad, k))
                out.append(yaml_dump(v, indent + 2))
            elif isinstance(v, list) and v:
                out.append("%s%s:" % (pad, k))
                out.append(yaml_dump(v, indent + 2))
            elif isinstance(v, (dict, list)):
                out.append("%s%s: %s" % (pad, k, "{}" if isinstance(v, dict) else "[]"))
            else:
                out.append("%s%s: %s" % (pad, k, _yaml_emit_scalar(v)))
    elif isinstance(value, list):
        for v in value:
            if isinstance(v, dict) and v:
                body = yaml_dump(v, indent + 2).split("\n")
                out.append("%s- %s" % (pad, body[0].lstrip()))
                out.extend(body[1:])
            elif isinstance(v, list) and v:
                out.append("%s-" % pad)
                out.append(yaml_dump(v, indent + 2))
            else:
                out.append("%s- %s" % (pad, _yaml_emit_scalar(v)))
    else:
        out.append(pad + _yaml_emit_scalar(value))
    return "\n".join(out)


def _set_dotted(cfg, key, value):
    """cfg["a"]["b"] = value for key "a.b"; numeric parts index lists;
    value None deletes the key."""
    parts = key.split(".")
    node = cfg
    for i, part in enumerate(parts[:-1]):
        nxt_is_index = parts[i + 1].isdigit()
        if isinstance(node, list):
            node = node[int(part)]
            continue
        if part not in node or node[part] is None:
            node[part] = [] if nxt_is_index else {}
        node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        if int(last) == len(node):
            node.append(value)  # "hosts.1" adds a second host
        else:
            node[int(last)] = value
    elif value is None:
        node.pop(last, None)
    else:
        node[last] = value


# ---------------------------------------------------------------------------
# The server under test.

def _free_ports(n):
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def _port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Server:
    """One aldis instance on loopback ports.

    Server(workers=None, domain="localhost", config={"limits.max_stanza_size": 4096})
    Dotted overrides may also be given as keyword arguments:
    Server(**{"limits.handshake_timeout": 2}).
    """

    LISTENERS = ("c2s", "c2s_tls", "s2s", "http", "https", "component")

    def __init__(self, workers=None, domain="localhost", config=None, **overrides):
        self.workers = WORKERS if workers is None else workers
        self.domain = domain
        self.overrides = dict(config or {})
        self.overrides.update(overrides)
        self.tmp = None
        self.dir = None
        self.config_path = None
        self.log_path = None
        self.config = None
        self.proc = None
        self._log = None
        self._users = 0
        self.ports = {}
        self.failed = False  # set by run_tests: keeps the directory

    # ports by name, as the brief names them
    c2s_port = property(lambda self: self.ports["c2s"])
    c2s_tls_port = property(lambda self: self.ports["c2s_tls"])
    s2s_port = property(lambda self: self.ports["s2s"])
    http_port = property(lambda self: self.ports["http"])
    https_port = property(lambda self: self.ports["https"])
    component_port = property(lambda self: self.ports["component"])

    def _run_ctl(self, *args, check=True):
        cmd = [ALDISCTL] + list(args)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=scaled(30))
        if check and p.returncode != 0:
            raise TestFailure("%s failed (exit %d):\n%s" % (" ".join(cmd), p.returncode, p.stdout))
        return p

    def ctl(self, *args, check=True):
        """Run `aldisctl --config <ours> ARGS...`; returns CompletedProcess."""
        return self._run_ctl("--config", self.config_path, *args, check=check)

    def _init(self):
        for exe in (ALDIS, ALDISCTL):
            if not os.access(exe, os.X_OK):
                raise TestFailure("%s not built (set ALDIS_BUILD to the CMake build dir)" % exe)
        self.tmp = tempfile.mkdtemp(prefix="aldis-test-")
        self.dir = os.path.join(self.tmp, "instance")
        p = dict(zip(self.LISTENERS, _free_ports(len(self.LISTENERS))))
        self.ports = p
        self._run_ctl("init", "--dir", self.dir, "--domain", self.domain,
                      "--c2s-port", str(p["c2s"]), "--c2s-tls-port", str(p["c2s_tls"]),
                      "--s2s-port", str(p["s2s"]), "--http-port", str(p["http"]),
                      "--https-port", str(p["https"]), "--component-port", str(p["component"]))
        self.config_path = os.path.join(self.dir, "aldis.yaml")
        self.log_path = os.path.join(self.dir, "aldis.log")
        with open(self.config_path) as f:
            self.initial_config = yaml_load(f.read())

    def _write_config(self):
        cfg = yaml_load(yaml_dump(self.initial_config))  # a deep copy
        cfg["log_level"] = "debug"
        cfg["workers"] = self.workers
        listen = cfg.setdefault("listen", {})
        for name in self.LISTENERS:
            entry = listen.get(name)
            if not isinstance(entry, dict):
                entry = {}
            entry["address"] = "127.0.0.1"
            entry["port"] = self.ports[name]
            listen[name] = entry
        for key, value in self.overrides.items():
            _set_dotted(cfg, key, value)
        self.config = cfg
        with open(self.config_path, "w") as f:
            f.write("# written by tests/integration/harness.py\n" + yaml_dump(cfg) + "\n")

    def start(self):
        """Start the daemon (initialising the instance the first time) and
        wait until the c2s port accepts connections."""
        if self.proc is not None and self.proc.poll() is None:
            return self
        if self.dir is None:
            self._init()
        self._write_config()
        self._log = open(self.log_path, "ab")
        self._log.write(("=== start %s\n" % time.strftime("%H:%M:%S")).encode())
        self._log.flush()
        self.proc = subprocess.Popen([ALDIS, "--config", self.config_path], cwd=self.dir,
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=_daemon_env())
        deadline = time.monotonic() + scaled(15)
        while True:
            if self.proc.poll() is not None:
                raise TestFailure("aldis exited during startup (status %s)\n%s"
                                  % (self.proc.returncode, self.log_tail()))
            if _port_open(self.c2s_port):
                return self
            if time.monotonic() > deadline:
                self._kill()
                raise TestFailure("aldis did not open its c2s port within 15 s\n" + self.log_tail())
            time.sleep(0.05)

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, check=True):
        """SIGTERM, wait up to 10 s; the exit status must be 0 and the log
        free of sanitizer reports (raises TestFailure otherwise)."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        status = proc.poll()
        if status is None:
            proc.send_signal(signal.SIGTERM)
            try:
                status = proc.wait(timeout=scaled(10))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                if self._log:
                    self._log.close()
                if check:
                    raise TestFailure("aldis did not exit within 10 s of SIGTERM\n" + self.log_tail())
                return
        if self._log:
            self._log.close()
            self._log = None
        if not check:
            return
        problems = self.sanitizer_lines()
        if status != 0 or problems:
            raise TestFailure("aldis exit status %s%s\n%s" % (
                status, "; sanitizer reports: " + "; ".join(problems[:5]) if problems else "",
                self.log_tail()))

    def restart(self):
        """Stop cleanly (checked) and start again on the same data and ports."""
        self.stop()
        return self.start()

    def cleanup(self):
        self.stop(check=False)
        if self.tmp and not self.failed and not os.environ.get("ALDIS_KEEP"):
            shutil.rmtree(self.tmp, ignore_errors=True)
        elif self.tmp:
            print("# instance kept in %s" % self.tmp)

    def log_text(self):
        if not self.log_path:
            return ""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=60):
        lines = self.log_text().splitlines()[-n:]
        return "\n".join("# log| " + l for l in lines)

    def sanitizer_lines(self):
        return [l for l in self.log_text().splitlines()
                if any(m in l for m in SANITIZER_MARKERS)]

    # users
    def add_user(self, user, password):
        """Register user (a local part or a bare JID) with aldisctl."""
        jid = user if "@" in user else "%s@%s" % (user, self.domain)
        self.ctl("user", "add", jid, password)
        return jid

    def new_user(self, prefix="user"):
        """Register a fresh user; returns (bare_jid, password)."""
        self._users += 1
        name = "%s%d%s" % (prefix, self._users, secrets.token_hex(3))
        password = "pw-" + secrets.token_hex(8)
        return self.add_user(name, password), password


# ---------------------------------------------------------------------------
# Per-test resources, closed after each test by run_tests.

_open_clients = []
_open_raw = []


def _client_ssl_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the instance has a self-signed certificate
    return ctx


# ---------------------------------------------------------------------------
# slixmpp clients

def _install_collector(client):
    client.h_stanzas = []      # everything received, in order
    client.h_unconsumed = []   # not yet returned by wait_stanza
    client.h_waiters = []      # (pred, future)
    client.h_stream_errors = []
    client.h_disconnected = None

    def on_in(stanza):
        client.h_stanzas.append(stanza)
        for entry in list(client.h_waiters):
            pred, fut = entry
            if fut.done():
                client.h_waiters.remove(entry)
                continue
            if _matches(pred, stanza):
                client.h_waiters.remove(entry)
                fut.set_result(stanza)
                return stanza
        client.h_unconsumed.append(stanza)
        return stanza

    client.add_filter("in", on_in)
    client.add_event_handler("stream_error", lambda e: client.h_stream_errors.append(e))


def _matches(pred, stanza):
    try:
        return bool(pred(stanza))
    except Exception:
        return False


def _summary(stanza, limit=300):
    s = str(stanza)
    return s if len(s) <= limit else s[:limit] + "..."


async def wait_stanza(client, pred, timeout=None):
    """Return the first received stanza (not returned before) for which
    pred(stanza) is true, waiting up to timeout seconds."""
    timeout = TIMEOUT if timeout is None else timeout
    for st in client.h_unconsumed:
        if _matches(pred, st):
            client.h_unconsumed.remove(st)
            return st
    fut = asyncio.get_running_loop().create_future()
    entry = (pred, fut)
    client.h_waiters.append(entry)
    try:
        return await asyncio.wait_for(fut, timeout)
    except asyncio.TimeoutError:
        got = "\n".join("#   " + _summary(s) for s in client.h_stanzas[-8:]) or "#   (nothing)"
        raise TestFailure("%s: no matching stanza within %.1f s; last received:\n%s"
                          % (client.boundjid, timeout, got)) from None
    finally:
        if entry in client.h_waiters:
            client.h_waiters.remove(entry)


def collected(client):
    """Every stanza the client has received so far (a copy)."""
    return list(client.h_stanzas)


async def assert_no_stanza(client, pred, wait=1.0, what="unexpected stanza"):
    """Wait `wait` seconds, then fail if any stanza received since connect
    matches pred."""
    await asyncio.sleep(scaled(wait))
    bad = [s for s in client.h_stanzas if _matches(pred, s)]
    if bad:
        raise TestFailure("%s: %s received:\n#   %s" % (client.boundjid, what, _summary(bad[0])))


async def connect(srv, jid, password, presence=True, roster=True, mech=None,
                  timeout=None, plugins=(), direct_tls=False):
    """A slixmpp ClientXMPP logged in over STARTTLS (or direct TLS) with
    `mech`; returns after session_start, having fetched the roster and sent
    initial presence unless told not to."""
    import slixmpp  # imported here so the raw-socket tests do not need it
    timeout = TIMEOUT if timeout is None else timeout
    # With mech=None slixmpp picks the strongest mechanism itself
    # (SCRAM-SHA-256-PLUS here).
    client = slixmpp.ClientXMPP(jid, password, sasl_mech=mech)
    if mech and not mech.endswith("-PLUS"):
        # A forced non-PLUS SCRAM makes slixmpp 1.8 send the GS2 flag 'y'
        # ("I could bind, you seem not to") whenever TLS is up, which a
        # server offering -PLUS must refuse as a downgrade (RFC 5802 §6).
        # A client that chose not to bind says 'n': hide the binding data.
        fm = client["feature_mechanisms"]
        default_creds = fm.sasl_callback

        def creds_without_binding(required, optional):
            result = default_creds(required, optional)
            if "channel_binding" in result:
                result["channel_binding"] = None
            return result
        fm.sasl_callback = creds_without_binding
    for p in plugins:
        client.register_plugin(p)
    client.ssl_context = _client_ssl_context()
    client.ca_certs = None
    _install_collector(client)
    _open_clients.append(client)
    loop = asyncio.get_running_loop()
    started = loop.create_future()

    def fail(why):
        if not started.done():
            started.set_exception(TestFailure("%s: login failed: %s" % (jid, why)))

    def on_disconnected(reason):
        client.h_disconnected = reason if reason is not None else True
        fail("disconnected (%s)" % (reason,))

    client.add_event_handler("session_start", lambda e: started.done() or started.set_result(True))
    client.add_event_handler("failed_all_auth", lambda e: fail("authentication failed"))
    client.add_event_handler("failed_auth", lambda e: fail("authentication failed (%s)" % (e,)))
    client.add_event_handler("stream_error", lambda e: fail("stream error %s" % (e,)))
    client.add_event_handler("connection_failed", lambda e: fail("connection failed (%s)" % (e,)))
    client.add_event_handler("ssl_invalid_chain", lambda e: fail("TLS failed (%s)" % (e,)))
    client.add_event_handler("disconnected", on_disconnected)
    if direct_tls:
        client.connect(("127.0.0.1", srv.c2s_tls_port), use_ssl=True)
    else:
        client.connect(("127.0.0.1", srv.c2s_port), force_starttls=True)
    try:
        await asyncio.wait_for(started, timeout)
    except asyncio.TimeoutError:
        client.abort()
        raise TestFailure("%s: no session within %.1f s" % (jid, timeout)) from None
    if roster:
        await client.get_roster(timeout=timeout)
    if presence:
        client.send_presence()
    return client


async def send_iq(client, payload, type="get", to=None):
    """Send an IQ with a raw XML payload from a slixmpp client; return the
    reply stanza, whether a result or an error."""
    import xml.etree.ElementTree as ET
    from slixmpp.exceptions import IqError
    st = client.Iq()
    st["type"] = type
    if to:
        st["to"] = to
    st.append(ET.fromstring(payload))
    try:
        return await st.send(timeout=TIMEOUT)
    except IqError as e:
        return e.iq


async def disconnect(client, wait=2.0):
    """Close the client's stream politely, then the connection."""
    try:
        await asyncio.wait_for(client.disconnect(wait=scaled(wait)), scaled(wait) + 1)
    except Exception:
        pass
    client.abort()


async def wait_disconnected(client, timeout=None):
    """Wait until the server has closed the client's session."""
    timeout = TIMEOUT if timeout is None else timeout
    deadline = time.monotonic() + timeout
    while client.h_disconnected is None and client.transport is not None:
        if time.monotonic() > deadline:
            raise TestFailure("%s: still connected after %.1f s" % (client.boundjid, timeout))
        await asyncio.sleep(0.05)


# ---------------------------------------------------------------------------
# Raw wire-level client

def _attrs(tag):
    return {m.group(1): m.group(3) for m in re.finditer(r"([\w:.-]+)\s*=\s*(['\"])(.*?)\2", tag, re.S)}


def _scram_escape(name):
    return name.replace("=", "=3D").replace(",", "=2C")


def _tls_exporter(sslsock, label=b"EXPORTER-Channel-Binding", length=32):
    """RFC 9266 tls-exporter channel binding data for a client ssl socket.

    Python's ssl module does not expose SSL_export_keying_material, so we
    call libssl through ctypes on the SSL* of the socket's _ssl._SSLSocket
    (CPython layout: PyObject_HEAD, PyObject *Socket, SSL *ssl). The pointer
    is validated with SSL_version() before use."""
    lib = ctypes.CDLL(ctypes.util.find_library("ssl") or "libssl.so.3")
    obj = sslsock._sslobj
    word = ctypes.sizeof(ctypes.c_void_p)
    ptr = ctypes.c_void_p.from_address(id(obj) + 3 * word).value
    lib.SSL_version.argtypes = [ctypes.c_void_p]
    lib.SSL_is_server.argtypes = [ctypes.c_void_p]
    versions = {"TLSv1.3": 0x304, "TLSv1.2": 0x303}
    if lib.SSL_version(ptr) != versions.get(sslsock.version()) or lib.SSL_is_server(ptr) != 0:
        raise TestFailure("cannot reach the SSL object for tls-exporter")
    out = ctypes.create_string_buffer(length)
    lib.SSL_export_keying_material.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                               ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                               ctypes.c_size_t, ctypes.c_int]
    if lib.SSL_export_keying_material(ptr, out, length, label, len(label), None, 0, 0) != 1:
        raise TestFailure("SSL_export_keying_material failed")
    return out.raw


class ScramClient:
    """RFC 5802 SCRAM client (SHA-1 / SHA-256, optional channel binding)."""

    def __init__(self, mech, user, password, cb_name=None, cb_data=b"", authzid=None, gs2=None):
        self.hash = hashlib.sha256 if "SHA-256" in mech else hashlib.sha1
        self.hname = "sha256" if "SHA-256" in mech else "sha1"
        self.user = user
        self.password = password
        authz = ",a=" + _scram_escape(authzid) if authzid else ","
        if cb_name:
            self.gs2 = "p=%s%s," % (cb_name, authz)
        else:
            self.gs2 = "n%s," % authz  # "n,," : client does not support binding
        if gs2 is not None:
            self.gs2 = gs2  # tests of the downgrade protection ("y,,")
        self.cb_data = cb_data
        self.cnonce = base64.b64encode(secrets.token_bytes(18)).decode()
        self.first_bare = "n=%s,r=%s" % (_scram_escape(user), self.cnonce)
        self.server_signature = None

    def first(self):
        return (self.gs2 + self.first_bare).encode()

    def final(self, server_first):
        sf = server_first.decode()
        fields = dict(item.split("=", 1) for item in sf.split(","))
        nonce, salt, iters = fields["r"], base64.b64decode(fields["s"]), int(fields["i"])
        if not nonce.startswith(self.cnonce):
            raise TestFailure("SCRAM: server nonce does not extend ours")
        salted = hashlib.pbkdf2_hmac(self.hname, self.password.encode(), salt, iters)
        client_key = hmac.new(salted, b"Client Key", self.hash).digest()
        stored_key = self.hash(client_key).digest()
        cbind = base64.b64encode(self.gs2.encode() + self.cb_data).decode()
        final_bare = "c=%s,r=%s" % (cbind, nonce)
        auth_message = ("%s,%s,%s" % (self.first_bare, sf, final_bare)).encode()
        client_sig = hmac.new(stored_key, auth_message, self.hash).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, client_sig))
        server_key = hmac.new(salted, b"Server Key", self.hash).digest()
        self.server_signature = hmac.new(server_key, auth_message, self.hash).digest()
        return ("%s,p=%s" % (final_bare, base64.b64encode(proof).decode())).encode()

    def verify(self, server_final):
        sf = server_final.decode()
        if not sf.startswith("v="):
            raise TestFailure("SCRAM: server-final is %r" % sf)
        if base64.b64decode(sf[2:]) != self.server_signature:
            raise TestFailure("SCRAM: wrong server signature")


class RawClient:
    """A plain socket speaking XMPP by hand: for wire-level tests.

    Reads accumulate decoded text; expect() searches the text not yet
    consumed and consumes up to the end of the match."""

    def __init__(self, srv, port=None, host="127.0.0.1", timeout=None, connect=True):
        self.srv = srv
        self.domain = srv.domain if srv else "localhost"
        self.timeout = TIMEOUT if timeout is None else timeout
        self.port = port or (srv.c2s_port if srv else None)
        self.host = host
        self.sock = None
        self.buf = ""          # received, not yet consumed by expect()
        self.received = ""     # everything received on the current stream
        self.eof = False
        self.features = None
        self.header = None     # the server's stream header attributes
        self.stream_prefix = "stream"
        self.jid = None
        self.tls = False
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        _open_raw.append(self)
        if connect:
            self.sock = socket.create_connection((host, self.port), timeout=self.timeout)

    # -- transport
    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def _read_once(self, timeout):
        """Read what is available within timeout; returns False on timeout."""
        if self.eof:
            return True
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError, BlockingIOError):
            return False
        except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
            data = b""
        except ssl.SSLError as e:
            if "APPLICATION_DATA_AFTER_CLOSE_NOTIFY" in str(e) or "UNEXPECTED_EOF" in str(e):
                data = b""
            else:
                raise
        if not data:
            self.eof = True
            tail = self._decoder.decode(b"", final=True)
        else:
            tail = self._decoder.decode(data)
        self.buf += tail
        self.received += tail
        return True

    def _search(self, regex, flags):
        m = re.search(regex, self.buf, flags)
        if m:
            self.buf = self.buf[m.end():]
        return m

    def _expect_failed(self, regex, timeout):
        state = "connection closed" if self.eof else "timeout (%.1f s)" % timeout
        raise TestFailure("%s waiting for /%s/; unconsumed input: %r" % (state, regex, self.buf[-1500:]))

    def expect(self, regex, timeout=None, flags=re.S):
        """Wait for regex in the unconsumed input; returns the match and
        consumes the input up to its end."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            m = self._search(regex, flags)
            if m:
                return m
            left = deadline - time.monotonic()
            if self.eof or left <= 0:
                self._expect_failed(regex, timeout)
            self._read_once(left)

    async def aexpect(self, regex, timeout=None, flags=re.S):
        """expect() that lets the asyncio loop (slixmpp clients) run."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            m = self._search(regex, flags)
            if m:
                return m
            if self.eof or time.monotonic() > deadline:
                self._expect_failed(regex, timeout)
            if not self._read_once(0.001):
                await asyncio.sleep(0.02)

    def read_for(self, seconds):
        """Read whatever arrives during `seconds`; returns it (unconsumed)."""
        deadline = time.monotonic() + seconds
        while not self.eof and time.monotonic() < deadline:
            self._read_once(deadline - time.monotonic())
        return self.buf

    def closed(self, timeout=None):
        """True if the server closes the connection within timeout."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._read_once(left)
        return True

    def close(self):
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    # -- stream level
    def header_xml(self, to=None, version="1.0", lang="en", xmlns="jabber:client",
                   stream_ns=NS_STREAMS, from_=None):
        to = self.domain if to is None else to
        parts = ["<?xml version='1.0'?><stream:stream"]
        if xmlns is not None:
            parts.append(" xmlns='%s'" % xmlns)
        parts.append(" xmlns:stream='%s'" % stream_ns)
        if to is not False:
            parts.append(" to='%s'" % to)
        if from_:
            parts.append(" from='%s'" % from_)
        if version is not None:
            parts.append(" version='%s'" % version)
        if lang is not None:
            parts.append(" xml:lang='%s'" % lang)
        parts.append(">")
        return "".join(parts)

    def expect_header(self, timeout=None):
        """Wait for the server's stream header; returns its attributes."""
        m = self.expect(r"<(\w+):stream\b[^>]*>", timeout)
        self.stream_prefix = m.group(1)
        self.header = _attrs(m.group(0))
        self.header_text = m.group(0)
        return self.header

    def expect_features(self, timeout=None):
        m = self.expect(r"<%s:features\b[^>]*?(/>|>.*?</%s:features>)" % (self.stream_prefix, self.stream_prefix),
                        timeout)
        self.features = m.group(0)
        return self.features

    def open(self, to=None, features=True, **kw):
        """Send a stream header, read the server's header and features.
        Returns the features text (or the header attributes if
        features=False)."""
        self.send(self.header_xml(to=to, **kw))
        hdr = self.expect_header()
        if not features:
            return hdr
        return self.expect_features()

    def _tls_wrap(self, server_hostname, min_version, max_version, ciphers, alpn):
        ctx = _client_ssl_context()
        if min_version is not None:
            ctx.minimum_version = min_version
        if max_version is not None:
            ctx.maximum_version = max_version
        if ciphers:
            ctx.set_ciphers(ciphers)
        if alpn:
            ctx.set_alpn_protocols(alpn)
        self.sock.settimeout(self.timeout)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)
        self.tls = True
        self._reset_stream()

    def _reset_stream(self):
        self.buf = ""
        self.received = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.features = None

    def starttls(self, reopen=True, server_hostname=None, min_version=None, max_version=None,
                 ciphers=None):
        """RFC 6120 §5: request TLS, handshake, restart the stream."""
        if self.features is not None and "<starttls" not in self.features:
            raise TestFailure("STARTTLS not offered: %s" % self.features)
        self.send("<starttls xmlns='%s'/>" % NS_TLS)
        m = self.expect(r"<(proceed|failure)\b[^>]*>")
        if m.group(1) != "proceed":
            raise TestFailure("STARTTLS refused: %s" % m.group(0))
        self._tls_wrap(server_hostname or self.domain, min_version, max_version, ciphers, None)
        if reopen:
            return self.open()

    def direct_tls(self, reopen=True, server_hostname=None, min_version=None, max_version=None,
                   ciphers=None, alpn=("xmpp-client",)):
        """XEP-0368: TLS from the first byte on the c2s_tls port."""
        if self.sock is None or self.port != self.srv.c2s_tls_port:
            self.close()
            self.port = self.srv.c2s_tls_port
            self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self._tls_wrap(server_hostname or self.domain, min_version, max_version, ciphers,
                       list(alpn) if alpn else None)
        if reopen:
            return self.open()

    def mechanisms(self):
        feats = self.features or ""
        return re.findall(r"<mechanism>\s*([^<\s]+)\s*</mechanism>", feats)

    def _sasl_step(self):
        m = self.expect(r"<(challenge|success|failure)\b([^>]*?)(?:/>|>(.*?)</\1>)")
        return m.group(1), (m.group(3) or "")

    def auth(self, user, password, mech=None, check=True, authzid=None, reopen=True,
             gs2=None, cb_data=None):
        """Authenticate with SASL (RFC 6120 §6). user is the local part.
        Returns None on success (and restarts the stream), else the failure
        condition name; with check=True a failure raises. gs2/cb_data
        override the SCRAM GS2 header and channel-binding data (for tests
        of the server's checks)."""
        if "@" in user:
            user = user.split("@", 1)[0]
        mech = mech or DEFAULT_MECH
        ns = NS_SASL
        if mech == "PLAIN":
            raw = ("%s\0%s\0%s" % (authzid or "", user, password)).encode()
            self.send("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" % (ns, base64.b64encode(raw).decode()))
            kind, body = self._sasl_step()
            scram = None
        elif mech.startswith("SCRAM-"):
            cb_name = None
            if mech.endswith("-PLUS"):
                cb_name = "tls-exporter"
                if cb_data is None:
                    cb_data = _tls_exporter(self.sock)
            scram = ScramClient(mech, user, password, cb_name, cb_data or b"", authzid, gs2)
            self.send("<auth xmlns='%s' mechanism='%s'>%s</auth>" % (ns, mech, base64.b64encode(scram.first()).decode()))
            kind, body = self._sasl_step()
            if kind == "challenge":
                final = scram.final(base64.b64decode(body))
                self.send("<response xmlns='%s'>%s</response>" % (ns, base64.b64encode(final).decode()))
                kind, body = self._sasl_step()
                if kind == "challenge":  # server-final as a challenge; answer empty
                    scram.verify(base64.b64decode(body))
                    self.send("<response xmlns='%s'/>" % ns)
                    kind, body = self._sasl_step()
                    scram = None
        else:
            raise ValueError("mechanism %s not implemented by RawClient" % mech)
        if kind == "success":
            if scram is not None:
                scram.verify(base64.b64decode(body.strip()))
            self.authed_user = user
            self._reset_stream()
            if reopen:
                self.open()
            return None
        cond = re.search(r"<([\w-]+)", body)
        condition = cond.group(1) if cond else "(none)"
        if check:
            raise TestFailure("SASL %s failed: %s" % (mech, condition))
        return condition

    def iq(self, payload, type="get", to=None, id=None, timeout=None):
        """Send an IQ and return the text of the reply with the same id."""
        id = id or "iq-" + secrets.token_hex(4)
        to_attr = " to='%s'" % to if to else ""
        self.send("<iq type='%s' id='%s'%s>%s</iq>" % (type, id, to_attr, payload))
        return self.expect_stanza("iq", id=id, timeout=timeout)

    def expect_stanza(self, kind="(?:iq|message|presence)", id=None, timeout=None):
        """Wait for a top-level stanza (optionally with this id); returns its text."""
        idre = r"[^>]*?\bid=(['\"])%s\2" % re.escape(id) if id else r"()"
        m = self.expect(r"<(%s)\b%s[^>]*?(?:/>|>.*?</\1>)" % (kind, idre), timeout)
        return m.group(0)

    def roundtrip(self, timeout=None):
        """Prove a bound stream still works: an IQ to the server for a
        namespace nobody serves must come back (RFC 6120 §8.4: an error
        reply, service-unavailable). Returns the reply text."""
        return self.iq("<query xmlns='urn:aldis:test:nothing'/>", to=self.domain, timeout=timeout)

    def bind(self, resource=None, check=True):
        """RFC 6120 §7: bind a resource; returns the full JID (or the
        error reply text when check=False and binding failed)."""
        res = "<resource>%s</resource>" % resource if resource else ""
        reply = self.iq("<bind xmlns='%s'>%s</bind>" % (NS_BIND, res), type="set")
        if "type='result'" in reply or 'type="result"' in reply:
            m = re.search(r"<jid>([^<]+)</jid>", reply)
            if not m:
                raise TestFailure("bind result without <jid/>: %s" % reply)
            self.jid = m.group(1)
            return self.jid
        if check:
            raise TestFailure("bind failed: %s" % reply)
        return reply

    def login(self, user, password, resource=None, mech=None):
        """open + STARTTLS + SASL + bind; returns the full JID."""
        self.open()
        self.starttls()
        self.auth(user, password, mech)
        return self.bind(resource)

    def expect_stream_error(self, condition, timeout=None):
        """RFC 6120 §4.9: <stream:error> with <condition xmlns=...xmpp-streams/>,
        then the closing stream tag, then the TCP connection is closed.
        condition may be a tuple of acceptable conditions; returns the one
        received."""
        conds = (condition,) if isinstance(condition, str) else tuple(condition)
        want = "|".join(conds)
        p = self.stream_prefix
        try:
            m = self.expect(r"<%s:error\b[^>]*>(.*?)</%s:error>" % (p, p), timeout)
        except TestFailure as e:
            raise TestFailure("expected stream error <%s/>: %s" % (want, e)) from None
        body = m.group(1)
        cm = re.search(r"<([\w-]+)\b([^>]*)>", body)
        if not cm or cm.group(1) not in conds or NS_XMPP_STREAMS not in cm.group(2):
            raise TestFailure("expected stream error <%s xmlns='%s'/>, got %s"
                              % (want, NS_XMPP_STREAMS, m.group(0)))
        self.expect(r"</%s:stream>" % p, timeout)
        if not self.closed(timeout):
            raise TestFailure("stream error <%s/> sent but the connection stays open" % cm.group(1))
        return cm.group(1)

    def stream_error(self, timeout=None):
        """The condition of a stream error if one arrives within timeout,
        else None (does not require the close)."""
        p = self.stream_prefix
        try:
            m = self.expect(r"<%s:error\b[^>]*>(.*?)</%s:error>" % (p, p), timeout)
        except TestFailure:
            return None
        cm = re.search(r"<([\w-]+)\b", m.group(1))
        return cm.group(1) if cm else "(empty)"


# ---------------------------------------------------------------------------
# Test runner

def _name(fn):
    return fn.__name__[5:] if fn.__name__.startswith("test_") else fn.__name__


async def _cleanup_test():
    clients, raws = list(_open_clients), list(_open_raw)
    _open_clients.clear()
    _open_raw.clear()
    for r in raws:
        r.close()
    if clients:
        await asyncio.gather(*(disconnect(c, wait=0.5) for c in clients), return_exceptions=True)


async def _run_one(fn, srv, timeout):
    try:
        args = (srv,) if srv is not None and len(inspect.signature(fn).parameters) >= 1 else ()
        result = fn(*args)
        if inspect.isawaitable(result):
            await asyncio.wait_for(result, timeout)
    finally:
        await _cleanup_test()


def run_tests(tests, srv=None, timeout=60):
    """Run tests (async or plain functions taking the Server, or nothing)
    against srv (started here if needed, stopped and checked at the end).
    Prints "ok - name" / "not ok - name: reason" per test and
    "N passed, M failed"; exits 1 if anything failed."""
    only = os.environ.get("ALDIS_TEST_ONLY")
    passed = failed = 0
    timeout = scaled(timeout)

    def report_failure(name, exc):
        nonlocal failed
        failed += 1
        reason = str(exc).split("\n")[0] or type(exc).__name__
        print("not ok - %s: %s" % (name, reason), flush=True)
        detail = str(exc).split("\n")[1:]
        for line in detail:
            print(line if line.startswith("#") else "# " + line)
        if not isinstance(exc, TestFailure) or not str(exc):
            for line in traceback.format_exception(type(exc), exc, exc.__traceback__):
                for l in line.rstrip().split("\n"):
                    print("# " + l)
        if srv is not None:
            srv.failed = True
            if "# log| " not in str(exc):
                print(srv.log_tail())
        sys.stdout.flush()

    try:
        if srv is not None:
            srv.start()
    except Exception as e:
        report_failure("server start", e)
        if srv is not None:
            srv.cleanup()
        print("%d passed, %d failed" % (passed, failed))
        sys.exit(1)

    for fn in tests:
        name = _name(fn)
        if only and only not in name:
            continue
        try:
            if srv is not None and not srv.running():
                srv.start()
            asyncio.run(_run_one(fn, srv, timeout))
            if srv is not None and not srv.running():
                raise TestFailure("the server died during the test (status %s)" % srv.proc.returncode)
            passed += 1
            print("ok - %s" % name, flush=True)
        except asyncio.TimeoutError:
            report_failure(name, TestFailure("test timed out after %.0f s" % timeout))
        except BaseException as e:  # noqa: B902 - report everything, keep going
            if isinstance(e, KeyboardInterrupt):
                raise
            report_failure(name, e)
        if srv is not None and srv.proc is not None and srv.proc.poll() is not None:
            srv.stop(check=False)

    if srv is not None:
        try:
            srv.stop()
            passed += 1
            print("ok - clean shutdown", flush=True)
        except Exception as e:
            report_failure("clean shutdown", e)
        srv.cleanup()
    print("%d passed, %d failed" % (passed, failed), flush=True)
    sys.exit(1 if failed else 0)
