#!/usr/bin/python3
"""73-metrics: /metrics in the Prometheus text format: sessions by
transport, stanzas by direction and kind, auth failures, latency
histograms and memory; the numbers move with traffic; a configured bearer
token is required."""

import re

from harness import Server, TestFailure, connect, run_tests, wait_stanza, RawClient
from http_util import WsClient, request, wait_http

TOKEN = "s3cret-metrics-token"
srv = Server(config={"http.metrics_token": TOKEN})
AUTH = {"Authorization": "Bearer " + TOKEN}

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.e+-]+|\+Inf|NaN)$')


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def scrape(srv):
    status, h, body = request(srv, "GET", "/metrics", headers=AUTH)
    check(status == 200, "status %s" % status)
    check(h.get("content-type", "").startswith("text/plain; version=0.0.4"), "type %s" % h)
    values, types = {}, {}
    for line in body.decode().splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        check(m, "not exposition format: %r" % line)
        values[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return values, types


def test_token_required(srv):
    wait_http(srv)
    status, h, _ = request(srv, "GET", "/metrics")
    check(status == 401, "no token: %s" % status)
    check("bearer" in h.get("www-authenticate", "").lower(), "headers %s" % h)
    status, _, _ = request(srv, "GET", "/metrics", headers={"Authorization": "Bearer wrong"})
    check(status == 401, "wrong token: %s" % status)


def test_format_and_counters_move(srv):
    v0, types = scrape(srv)
    for name in ("aldis_sessions", "aldis_stanzas_total", "aldis_auth_failures_total",
                 "aldis_routing_latency_seconds", "aldis_store_latency_seconds",
                 "aldis_resident_memory_bytes", "aldis_tls_handshakes_total"):
        check(name in types, "%s missing (types: %s)" % (name, sorted(types)))
    check(types["aldis_routing_latency_seconds"] == "histogram", "histogram type")
    check(v0["aldis_resident_memory_bytes"] > 1e6, "rss %s" % v0["aldis_resident_memory_bytes"])

    a, apw = srv.new_user("ma")
    b, bpw = srv.new_user("mb")
    ws = WsClient(srv)
    ws.login(a, apw, resource="w")
    # a failed login counts
    bad = RawClient(srv)
    bad.open()
    bad.starttls()
    check(bad.auth(b.split("@")[0], "wrong-password", "SCRAM-SHA-256", check=False) == "not-authorized",
          "bad password accepted")
    bad.close()

    async def traffic():
        bob = await connect(srv, b + "/t", bpw)
        for i in range(3):
            ws.send("<message to='%s/t' type='chat'><body>m%d</body></message>" % (b, i))
        for i in range(3):
            await wait_stanza(bob, lambda s, i=i: s.name == "message" and s["body"] == "m%d" % i)
        v1, _ = scrape(srv)
        check(v1['aldis_sessions{transport="websocket"}'] >= 1, "ws sessions %s" % v1)
        check(v1['aldis_sessions{transport="tcp"}'] >= 1, "tcp sessions")
        key_in = 'aldis_stanzas_total{direction="in",type="message"}'
        key_out = 'aldis_stanzas_total{direction="out",type="message"}'
        check(v1[key_in] >= v0[key_in] + 3, "messages in %s -> %s" % (v0[key_in], v1[key_in]))
        check(v1[key_out] >= v0[key_out] + 3, "messages out %s -> %s" % (v0[key_out], v1[key_out]))
        check(v1["aldis_auth_failures_total"] >= v0["aldis_auth_failures_total"] + 1, "auth failures")
        check(v1["aldis_tls_handshakes_total"] >= v0["aldis_tls_handshakes_total"] + 2, "tls")
        # cumulative buckets end at +Inf == count
        inf = v1['aldis_routing_latency_seconds_bucket{le="+Inf"}']
        check(inf == v1["aldis_routing_latency_seconds_count"], "histogram +Inf != count")
        # the three client-to-client messages were timed, arrival to delivery
        n0, n1 = v0["aldis_routing_latency_seconds_count"], v1["aldis_routing_latency_seconds_count"]
        check(n1 >= n0 + 3, "routing latency not observed: count %s -> %s" % (n0, n1))
        check(0 < v1["aldis_routing_latency_seconds_sum"] < n1 * 5.0,
              "routing latency sum %s for %s stanzas" % (v1["aldis_routing_latency_seconds_sum"], n1))
        ws.close()
    return traffic()


if __name__ == "__main__":
    run_tests([test_token_required, test_format_and_counters_move], srv)
