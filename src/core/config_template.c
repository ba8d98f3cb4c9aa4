/* config_template.c - the aldis.yaml that `aldisctl init` writes: every key
 * of docs/configuration.md, with a comment saying what it does, optional
 * keys commented out at their defaults. It must stay loadable by
 * config_load (test_config checks that). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "core/config_template.h"

const int config_default_ports[CONFIG_PORT_COUNT] = {5222, 5223, 5269,
                                                     5280, 5281, 5347};

static void modules_comment(FILE *out, const char *const *names)
{
    if (!names || !names[0]) {
        fputs("    # modules: [roster, presence]\n", out);
        return;
    }
    /* One flow list, wrapped to stay readable in an 80-column editor. */
    static const char lead[] = "    # modules: [";
    static const char cont[] = "    #           ";
    size_t col = sizeof lead - 1;
    fputs(lead, out);
    for (size_t i = 0; names[i]; i++) {
        fputs(names[i], out);
        col += strlen(names[i]);
        if (!names[i + 1]) {
            fputs("]\n", out);
            break;
        }
        /* Room for ", next," on this line? Otherwise break after the comma. */
        if (col + 2 + strlen(names[i + 1]) + 1 > 78) {
            fprintf(out, ",\n%s", cont);
            col = sizeof cont - 1;
        } else {
            fputs(", ", out);
            col += 2;
        }
    }
}

char *config_template(const char *domain, const int ports[CONFIG_PORT_COUNT],
                      const char *const *module_names)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    ALDIS_ASSERT(out != NULL);

    fprintf(out,
"# aldis.yaml - configuration of the Aldis XMPP server.\n"
"#\n"
"# Written by `aldisctl init`. Every setting is listed here; the ones that are\n"
"# commented out show their default value. Relative paths are relative to the\n"
"# directory of this file. An unknown or misspelt key is an error (with its\n"
"# line number), so a typo never goes unnoticed. Full reference:\n"
"# docs/configuration.md.\n"
"\n"
"# How much the server logs: error | warn | info | debug.\n"
"# log_level: info\n"
"\n"
"# Worker threads, each with its own event loop. 0 = one per CPU core.\n"
"# At most 256.\n"
"# workers: 0\n"
"\n"
"# The XMPP domains this server hosts (at least one). Each needs a TLS\n"
"# certificate and key in PEM format for its domain name.\n"
"hosts:\n"
"  - domain: %s\n"
"    # Defaults: <domain>.crt and <domain>.key next to this file.\n"
"    certificate: %s.crt\n"
"    key: %s.key\n"
"    # The modules (features) enabled on this host, in order. Default: every\n"
"    # module compiled into this build:\n",
            domain, domain, domain);
    modules_comment(out, module_names);

    fprintf(out,
"\n"
"# Network listeners. 'address' is an IP address to bind (\"::\" = every IPv4\n"
"# and IPv6 address, \"127.0.0.1\" = this machine only); port 0 disables a\n"
"# listener.\n"
"listen:\n"
"  # Clients (RFC 6120), with STARTTLS.\n"
"  c2s: { address: \"::\", port: %d }\n"
"  # Clients over direct TLS (XEP-0368).\n"
"  c2s_tls: { address: \"::\", port: %d }\n"
"  # Other servers (server-to-server federation).\n"
"  s2s: { address: \"::\", port: %d }\n"
"  # HTTP: BOSH, WebSocket, the web client (plain; put it behind TLS).\n"
"  http: { address: \"::\", port: %d }\n"
"  # HTTPS: the same over TLS, with the host certificates.\n"
"  https: { address: \"::\", port: %d }\n"
"  # External components (XEP-0114), e.g. aldis-irc. Keep it on loopback\n"
"  # unless components run on other machines.\n"
"  component: { address: \"::\", port: %d }\n"
"\n",
            ports[CONFIG_PORT_C2S], ports[CONFIG_PORT_C2S_TLS], ports[CONFIG_PORT_S2S],
            ports[CONFIG_PORT_HTTP], ports[CONFIG_PORT_HTTPS],
            ports[CONFIG_PORT_COMPONENT]);

    fputs(
"# Where accounts, rosters and messages are kept. 'sqlite' is one file in WAL\n"
"# mode; `aldisctl` can change users while the server runs.\n"
"storage:\n"
"  backend: sqlite\n"
"  path: aldis.db\n"
"\n"
"# Client connections.\n"
"# c2s:\n"
"#   # Require TLS (STARTTLS or direct TLS) before authentication.\n"
"#   require_encryption: true\n"
"#   # Offer SASL PLAIN (only ever over TLS) besides SCRAM.\n"
"#   allow_plain: true\n"
"#   # PEM file of the CAs whose client certificates may log in with SASL\n"
"#   # EXTERNAL (XEP-0178: the certificate's xmppAddr names the account).\n"
"#   # Unset = EXTERNAL is not offered.\n"
"#   client_ca: clients-ca.pem\n"
"#   # Stream management (XEP-0198): seconds a session whose connection\n"
"#   # dropped waits to be resumed (0 = no resumption), and how many\n"
"#   # unacknowledged stanzas it may hold.\n"
"#   sm_resume_timeout: 300\n"
"#   sm_max_queue: 1000\n"
"#   # Resources one account may have online at once (1..10000).\n"
"#   max_sessions_per_user: 10\n"
"\n"
"# TLS settings for every listener.\n"
"# tls:\n"
"#   # Oldest TLS version accepted: \"1.2\" or \"1.3\".\n"
"#   min_version: \"1.2\"\n"
"#   # OpenSSL cipher list for TLS 1.2; null = OpenSSL's secure defaults.\n"
"#   ciphers: null\n"
"\n"
"# Input limits, per connection.\n"
"# limits:\n"
"#   # Largest stanza in bytes (1k..16M; suffixes k and M allowed).\n"
"#   max_stanza_size: 262144\n"
"#   # Deepest element nesting in a stanza (4..256).\n"
"#   max_depth: 32\n"
"#   # Most attributes on one element (4..1024).\n"
"#   max_attrs: 64\n"
"#   # Seconds to finish TLS, authentication and resource binding (1..3600).\n"
"#   handshake_timeout: 30\n"
"#   # Seconds of silence before the server pings the peer (10..86400).\n"
"#   idle_timeout: 300\n"
"#   # Seconds the peer has to answer that ping (5..3600).\n"
"#   ping_timeout: 60\n"
"#   # Input rate limit in bytes per second; 0 = unlimited.\n"
"#   rate_bytes_per_sec: 0\n"
"\n"
"# Failed-login throttling.\n"
"# auth:\n"
"#   # Failures from one IP address within fail_window before it is slowed.\n"
"#   fail_per_ip: 10\n"
"#   # Failures for one account within fail_window before it is slowed.\n"
"#   fail_per_account: 5\n"
"#   # The window, in seconds.\n"
"#   fail_window: 60\n"
"\n"
"# Security labels (docs/security-labels.md). The policy is an Open XML SPIF\n"
"# file with the classifications, categories and markings. Every message,\n"
"# room, archive and file is checked against the reader's clearance with it.\n"
"# Remove 'policy' to run without labels.\n"
"security:\n"
"  policy: policy.xml\n"
"  # Append-only log of every refused delivery (who, label, path, reason).\n"
"  audit_log: audit.log\n"
"  # Also log every labelled delivery that was allowed.\n"
"  # audit_deliveries: false\n"
"  # SASL EXTERNAL logins: a clearance attribute in the client certificate\n"
"  # (aldisctl policy cert-extension) becomes the user's clearance.\n"
"  # certificate_clearance: false\n"
"  # Put the default label on messages clients send without one (so it\n"
"  # travels with them, and is bound when binding_key is set).\n"
"  # label_unlabelled: false\n"
"  # Classification given to unlabelled content; null = the policy's lowest.\n"
"  # default_label: null\n"
"  # STANAG 4778: key and certificate (PEM) the server binds the labels it\n"
"  # applies with, and the CAs trusted to verify bindings on incoming\n"
"  # messages. Unset = the server does not sign; bindings are still checked.\n"
"  # binding_key: binding.key\n"
"  # binding_cert: binding.crt\n"
"  # binding_ca: binding-ca.pem\n"
"\n"
"# HTTP services (docs/http.md): WebSocket at /xmpp-websocket, BOSH at\n"
"# /http-bind, XEP-0156 host-meta, the web client, /metrics and uploads.\n"
"# http:\n"
"#   # The web client's files; unset = the web/dist of the source tree the\n"
"#   # server was built from (a placeholder page if it is missing).\n"
"#   static_dir: /usr/share/aldis/web\n"
"#   # Largest request body (BOSH, other POSTs); uploads have their own limit.\n"
"#   max_body_size: 1048576\n"
"#   # Require 'Authorization: Bearer TOKEN' on /metrics; null = open.\n"
"#   metrics_token: null\n"
"#   # Simultaneous HTTP connections from one address (per worker).\n"
"#   max_connections_per_ip: 64\n"
"#   # Bytes of request headers, and seconds to send them.\n"
"#   max_header_size: 8192\n"
"#   timeout: 20\n"
"#   # Plain HTTP from 127.0.0.1/::1 counts as encrypted for logins (a\n"
"#   # TLS-terminating reverse proxy on this machine). Other plain-HTTP\n"
"#   # clients must use HTTPS when c2s.require_encryption is on.\n"
"#   trust_loopback: true\n"
"\n"
"# Options of individual modules, by module name. Each module documents and\n"
"# checks its own; an option no module knows is an error.\n"
"# modules:\n"
"#   offline:\n"
"#     # Messages kept for an offline user before new ones are refused.\n"
"#     max_messages: 1000\n",
        out);

    ALDIS_ASSERT(fclose(out) == 0);
    return text;
}
