/* config.c - reading aldis.yaml (libyaml document API) into struct config:
 * every key is checked against the tables below, an unknown key or a bad
 * value is an error that names FILE:LINE, and module options are kept as
 * strings for each module to read (and bound) with config_module_*.
 * docs/configuration.md describes every key; keep the two in step. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <yaml.h>

#include "aldis/config.h"
#include "aldis/error.h"
#include "aldis/jid.h"

/* Defaults (docs/configuration.md lists the same values). */
#define DEF_LOG_LEVEL "info"
#define DEF_ADDRESS "::"
#define DEF_PORT_C2S 5222
#define DEF_PORT_C2S_TLS 5223
#define DEF_PORT_S2S 5269
#define DEF_PORT_HTTP 5280
#define DEF_PORT_HTTPS 5281
#define DEF_PORT_COMPONENT 5347
#define DEF_STORE_BACKEND "sqlite"
#define DEF_STORE_PATH "aldis.db"
#define DEF_TLS_MIN "1.2"
#define DEF_MAX_STANZA_SIZE 262144
#define DEF_MAX_DEPTH 32
#define DEF_MAX_ATTRS 64
#define DEF_HANDSHAKE_TIMEOUT 30
#define DEF_IDLE_TIMEOUT 300
#define DEF_PING_TIMEOUT 60
#define DEF_MAX_SESSIONS 10
#define DEF_AUTH_FAIL_IP 10
#define DEF_AUTH_FAIL_ACCOUNT 5
#define DEF_AUTH_FAIL_WINDOW 60

/* ---- parsing context ------------------------------------------------- */

struct ctx {
    const char *file; /* as given, for messages */
    yaml_document_t *doc;
    struct config *c;
    char *err;
    size_t errlen;
};

static int node_line(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.line + 1 : 1;
}

__attribute__((format(printf, 3, 4))) static int
fail(struct ctx *x, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(x->err, x->errlen, "%s:%d: %s", x->file, node_line(n), msg);
    return ALDIS_ECONFIG;
}

/* Out of memory while reading the config is fatal, as elsewhere. */
static void set_str(char **field, const char *value)
{
    free(*field);
    *field = value ? aldis_strdup(value) : NULL;
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value
                                            : NULL;
}

/* YAML's null: an empty value, '~' or 'null', when not quoted. */
static bool is_null(const yaml_node_t *n)
{
    if (!n)
        return true;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = scalar(n);
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcasecmp(v, "null") == 0;
}

static const char *kind_name(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    default:
        return is_null(n) ? "empty" : "a value";
    }
}

static int parse_bool_text(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return ALDIS_EINVAL;
}

/* A whole-string decimal integer; with `size_suffix`, a trailing k/K or
 * m/M multiplies by 1024 or 1024*1024 (binary units, like nginx). */
static int parse_long_text(const char *v, bool size_suffix, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (end == v || errno == ERANGE)
        return ALDIS_EINVAL;
    if (size_suffix && (*end == 'k' || *end == 'K' || *end == 'm' || *end == 'M')) {
        long mul = (*end == 'k' || *end == 'K') ? 1024L : 1024L * 1024L;
        if (n > LONG_MAX / mul || n < LONG_MIN / mul)
            return ALDIS_EINVAL;
        n *= mul;
        end++;
    }
    if (*end != '\0')
        return ALDIS_EINVAL;
    *out = n;
    return 0;
}

/* ---- typed values ----------------------------------------------------- */

static int get_string(struct ctx *x, const yaml_node_t *n, const char *key,
                      bool nullable, char **out)
{
    if (nullable && is_null(n)) {
        set_str(out, NULL);
        return 0;
    }
    const char *v = scalar(n);
    if (!v || is_null(n) || v[0] == '\0')
        return fail(x, n, "'%s' must be a non-empty string, not %s", key,
                    kind_name(n));
    set_str(out, v);
    return 0;
}

static int get_long(struct ctx *x, const yaml_node_t *n, const char *key,
                    long min, long max, bool size_suffix, long *out)
{
    const char *v = scalar(n);
    long val;
    if (!v || is_null(n) || parse_long_text(v, size_suffix, &val) != 0)
        return fail(x, n, "'%s' must be an integer from %ld to %ld, not %s%s%s",
                    key, min, max, v && !is_null(n) ? "'" : "",
                    v && !is_null(n) ? v : kind_name(n), v && !is_null(n) ? "'" : "");
    if (val < min || val > max)
        return fail(x, n, "'%s' must be from %ld to %ld, not %ld", key, min, max, val);
    *out = val;
    return 0;
}

static int get_bool(struct ctx *x, const yaml_node_t *n, const char *key, bool *out)
{
    const char *v = scalar(n);
    if (!v || is_null(n) || parse_bool_text(v, out) != 0)
        return fail(x, n, "'%s' must be true or false, not %s%s%s", key,
                    v && !is_null(n) ? "'" : "", v && !is_null(n) ? v : kind_name(n),
                    v && !is_null(n) ? "'" : "");
    return 0;
}

/* One of a fixed set of words (NULL-terminated). */
static int get_enum(struct ctx *x, const yaml_node_t *n, const char *key,
                    const char *const *allowed, char **out)
{
    const char *v = scalar(n);
    if (v && !is_null(n))
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(v, allowed[i]) == 0) {
                set_str(out, v);
                return 0;
            }
    char list[128] = "";
    for (size_t i = 0; allowed[i]; i++) {
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s%s", i ? " | " : "", allowed[i]);
    }
    return fail(x, n, "'%s' must be one of %s, not %s%s%s", key, list,
                v && !is_null(n) ? "'" : "", v && !is_null(n) ? v : kind_name(n),
                v && !is_null(n) ? "'" : "");
}

/* Make `p` absolute against the config file's directory. */
static char *path_resolve(const struct config *c, const char *p)
{
    if (p[0] == '/')
        return aldis_strdup(p);
    size_t n = strlen(c->dir) + strlen(p) + 2;
    char *abs = malloc(n);
    ALDIS_ASSERT(abs != NULL);
    snprintf(abs, n, "%s/%s", c->dir, p);
    return abs;
}

static int get_path(struct ctx *x, const yaml_node_t *n, const char *key, char **out)
{
    char *raw = NULL;
    int rc = get_string(x, n, key, false, &raw);
    if (rc == 0) {
        free(*out);
        *out = path_resolve(x->c, raw);
    }
    free(raw);
    return rc;
}

/* A file the admin named must exist (a typo is better caught here, with
 * its line, than at the first TLS handshake). Readability is not checked:
 * aldisctl may run as a user who cannot read the server's key. */
static int check_exists(struct ctx *x, const yaml_node_t *n, const char *key,
                        const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return fail(x, n, "%s file '%s' does not exist (%s)", key, path,
                    strerror(errno));
    return 0;
}

/* ---- mappings --------------------------------------------------------- */

typedef int (*pair_fn)(struct ctx *x, const char *section, const yaml_node_t *key,
                       const yaml_node_t *value, void *ud);

/* Walk a mapping's pairs, rejecting non-scalar and duplicate keys. A null
 * section (`limits:` with nothing under it) is an empty mapping. */
static int map_walk(struct ctx *x, const char *section, const yaml_node_t *map,
                    pair_fn fn, void *ud)
{
    if (is_null(map))
        return 0;
    if (map->type != YAML_MAPPING_NODE)
        return fail(x, map, "'%s' must be a mapping (key: value lines), not %s",
                    section, kind_name(map));
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = yaml_document_get_node(x->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(x->doc, p->value);
        if (!scalar(k) || is_null(k))
            return fail(x, k, "keys in '%s' must be plain words", section);
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            const char *prev = scalar(yaml_document_get_node(x->doc, q->key));
            if (prev && strcmp(prev, scalar(k)) == 0)
                return fail(x, k, "duplicate key '%s' in '%s'", scalar(k), section);
        }
        int rc = fn(x, section, k, v, ud);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int unknown_key(struct ctx *x, const char *section, const yaml_node_t *k)
{
    return fail(x, k, "unknown key '%s' in '%s'", scalar(k), section);
}

/* Simple sections are tables of typed rows writing into struct config. */
enum opt_type { OPT_BOOL, OPT_UINT, OPT_SIZE, OPT_STR_OR_NULL, OPT_ENUM, OPT_PATH };

struct opt_row {
    const char *name;
    enum opt_type type;
    size_t offset;
    long min, max;
    const char *const *words; /* OPT_ENUM */
};

#define CFG(field) offsetof(struct config, field)

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const backends[] = {"sqlite", NULL};
static const char *const tls_versions[] = {"1.2", "1.3", NULL};

static const struct opt_row storage_rows[] = {
    {"backend", OPT_ENUM, CFG(store_backend), 0, 0, backends},
    {"path", OPT_PATH, CFG(store_path), 0, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

static const struct opt_row c2s_rows[] = {
    {"require_encryption", OPT_BOOL, CFG(require_encryption), 0, 0, NULL},
    {"allow_plain", OPT_BOOL, CFG(allow_plain), 0, 0, NULL},
    {"client_ca", OPT_PATH, CFG(client_ca), 0, 0, NULL},
    {"sm_resume_timeout", OPT_UINT, CFG(sm_resume_timeout), 0, 86400, NULL},
    {"sm_max_queue", OPT_UINT, CFG(sm_max_queue), 10, 100000, NULL},
    {"max_sessions_per_user", OPT_UINT, CFG(max_sessions_per_user), 1, 10000, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

static const struct opt_row tls_rows[] = {
    {"min_version", OPT_ENUM, CFG(tls_min_version), 0, 0, tls_versions},
    {"ciphers", OPT_STR_OR_NULL, CFG(tls_ciphers), 0, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

static const struct opt_row limits_rows[] = {
    /* 1 KiB: RFC 6120 §13.12 says servers must accept at least 10000 bytes;
     * lower is allowed only for tests. 16 MiB bounds memory per stanza. */
    {"max_stanza_size", OPT_SIZE, CFG(max_stanza_size), 1024, 16L * 1024 * 1024, NULL},
    {"max_depth", OPT_UINT, CFG(max_depth), 4, 256, NULL},
    {"max_attrs", OPT_UINT, CFG(max_attrs), 4, 1024, NULL},
    {"handshake_timeout", OPT_UINT, CFG(handshake_timeout), 1, 3600, NULL},
    {"idle_timeout", OPT_UINT, CFG(idle_timeout), 10, 86400, NULL},
    {"ping_timeout", OPT_UINT, CFG(ping_timeout), 5, 3600, NULL},
    {"rate_bytes_per_sec", OPT_UINT, CFG(rate_bytes_per_sec), 0, 1L << 30, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

static const struct opt_row auth_rows[] = {
    {"fail_per_ip", OPT_UINT, CFG(auth_fail_per_ip), 1, 1000000, NULL},
    {"fail_per_account", OPT_UINT, CFG(auth_fail_per_account), 1, 1000000, NULL},
    {"fail_window", OPT_UINT, CFG(auth_fail_window), 1, 86400, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

static const struct opt_row security_rows[] = {
    {"policy", OPT_PATH, CFG(security_policy), 0, 0, NULL},
    {"audit_log", OPT_PATH, CFG(security_audit_log), 0, 0, NULL},
    {"audit_deliveries", OPT_BOOL, CFG(security_audit_deliveries), 0, 0, NULL},
    {"certificate_clearance", OPT_BOOL, CFG(security_certificate_clearance), 0, 0, NULL},
    {"label_unlabelled", OPT_BOOL, CFG(security_label_unlabelled), 0, 0, NULL},
    {"default_label", OPT_STR_OR_NULL, CFG(security_default_label), 0, 0, NULL},
    {"binding_key", OPT_PATH, CFG(security_binding_key), 0, 0, NULL},
    {"binding_cert", OPT_PATH, CFG(security_binding_cert), 0, 0, NULL},
    {"binding_ca", OPT_PATH, CFG(security_binding_ca), 0, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

static const struct opt_row http_rows[] = {
    {"static_dir", OPT_PATH, CFG(http_static_dir), 0, 0, NULL},
    /* BOSH bodies are small; 64 MiB bounds what one request may buffer */
    {"max_body_size", OPT_SIZE, CFG(http_max_body), 1024, 64L * 1024 * 1024, NULL},
    {"metrics_token", OPT_STR_OR_NULL, CFG(http_metrics_token), 0, 0, NULL},
    {"max_connections_per_ip", OPT_UINT, CFG(http_max_conns_per_ip), 1, 100000, NULL},
    /* libwebsockets keeps header sizes in 16 bits */
    {"max_header_size", OPT_UINT, CFG(http_max_header_size), 1024, 65535, NULL},
    {"timeout", OPT_UINT, CFG(http_timeout), 1, 3600, NULL},
    {"bosh_inactivity", OPT_UINT, CFG(http_bosh_inactivity), 5, 3600, NULL},
    {"trust_loopback", OPT_BOOL, CFG(http_trust_loopback), 0, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

static int row_pair(struct ctx *x, const char *section, const yaml_node_t *k,
                    const yaml_node_t *v, void *ud)
{
    const struct opt_row *rows = ud;
    const char *name = scalar(k);
    char *base = (char *)x->c;
    for (const struct opt_row *r = rows; r->name; r++) {
        if (strcmp(r->name, name) != 0)
            continue;
        void *field = base + r->offset;
        long n;
        int rc;
        switch (r->type) {
        case OPT_BOOL:
            return get_bool(x, v, name, field);
        case OPT_UINT:
            if ((rc = get_long(x, v, name, r->min, r->max, false, &n)) == 0)
                *(unsigned *)field = (unsigned)n;
            return rc;
        case OPT_SIZE:
            if ((rc = get_long(x, v, name, r->min, r->max, true, &n)) == 0)
                *(size_t *)field = (size_t)n;
            return rc;
        case OPT_STR_OR_NULL:
            return get_string(x, v, name, true, field);
        case OPT_ENUM:
            return get_enum(x, v, name, r->words, field);
        case OPT_PATH:
            return get_path(x, v, name, field);
        }
    }
    return unknown_key(x, section, k);
}

/* ---- listen ------------------------------------------------------------ */

struct listener_row {
    const char *name;
    size_t offset;
};

static const struct listener_row listener_rows[] = {
    {"c2s", CFG(c2s)},     {"c2s_tls", CFG(c2s_tls)}, {"s2s", CFG(s2s)},
    {"http", CFG(http)},   {"https", CFG(https)},     {"component", CFG(component)},
    {NULL, 0},
};

struct listener_ctx {
    struct listen_config *lc;
    char section[32];
};

static int listener_pair(struct ctx *x, const char *section, const yaml_node_t *k,
                         const yaml_node_t *v, void *ud)
{
    struct listen_config *lc = ud;
    const char *name = scalar(k);
    if (strcmp(name, "port") == 0) {
        long port;
        int rc = get_long(x, v, "port", 0, 65535, false, &port);
        if (rc == 0)
            lc->port = (int)port;
        return rc;
    }
    if (strcmp(name, "address") == 0) {
        unsigned char buf[sizeof(struct in6_addr)];
        char *addr = NULL;
        int rc = get_string(x, v, "address", false, &addr);
        if (rc != 0)
            return rc;
        /* libuv binds numeric addresses only; a name would need DNS at
         * startup and could change under us. */
        if (inet_pton(AF_INET6, addr, buf) != 1 && inet_pton(AF_INET, addr, buf) != 1) {
            rc = fail(x, v, "'address' must be an IP address such as \"::\" or "
                            "\"127.0.0.1\", not '%s'", addr);
            free(addr);
            return rc;
        }
        free(lc->address);
        lc->address = addr;
        return 0;
    }
    return unknown_key(x, section, k);
}

static int listen_pair(struct ctx *x, const char *section, const yaml_node_t *k,
                       const yaml_node_t *v, void *ud)
{
    const char *name = scalar(k);
    for (const struct listener_row *r = listener_rows; r->name; r++) {
        if (strcmp(r->name, name) != 0)
            continue;
        char sub[32];
        snprintf(sub, sizeof sub, "listen.%s", name);
        return map_walk(x, sub, v, listener_pair, (char *)x->c + r->offset);
    }
    return unknown_key(x, section, k);
}

/* ---- hosts ------------------------------------------------------------ */

/* A server's domain must be a DNS name we can hold a certificate for: after
 * jid_domainprep (lower-case, IDNA), LDH labels of 1..63, no IP literal. */
static int domain_check(struct ctx *x, const yaml_node_t *n, const char *in,
                        char *out)
{
    if (jid_domainprep(in, out) != 0)
        return fail(x, n, "'%s' is not a valid domain name", in);
    size_t label = 0;
    bool all_digits = true;
    for (const char *p = out;; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '.' || ch == '\0') {
            if (label == 0 || p[-1] == '-')
                return fail(x, n, "'%s' is not a valid domain name", in);
            if (ch == '\0')
                break;
            label = 0;
            continue;
        }
        if (ch == '[' || ch == ']' || ch == '_' || ch == ':' ||
            (label == 0 && ch == '-'))
            return fail(x, n, "'%s' is not a valid domain name", in);
        if (!(ch >= '0' && ch <= '9'))
            all_digits = false;
        label++;
    }
    if (all_digits) /* digits and dots only: an IPv4 literal */
        return fail(x, n, "host domain '%s' is an IP address; use a domain name", in);
    return 0;
}

struct host_ctx {
    struct host_config *h;
    const yaml_node_t *cert_node, *key_node, *domain_node;
};

static int module_name_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

static int host_pair(struct ctx *x, const char *section, const yaml_node_t *k,
                     const yaml_node_t *v, void *ud)
{
    struct host_ctx *hc = ud;
    struct host_config *h = hc->h;
    const char *name = scalar(k);
    int rc;

    if (strcmp(name, "domain") == 0) {
        char *raw = NULL;
        char prepared[JID_PART_MAX + 1];
        if ((rc = get_string(x, v, "domain", false, &raw)) != 0)
            return rc;
        rc = domain_check(x, v, raw, prepared);
        free(raw);
        if (rc == 0) {
            set_str(&h->domain, prepared);
            hc->domain_node = v;
        }
        return rc;
    }
    if (strcmp(name, "certificate") == 0) {
        hc->cert_node = v;
        return get_path(x, v, "certificate", &h->certificate);
    }
    if (strcmp(name, "key") == 0) {
        hc->key_node = v;
        return get_path(x, v, "key", &h->key);
    }
    if (strcmp(name, "modules") == 0) {
        if (is_null(v))
            return 0;
        if (v->type != YAML_SEQUENCE_NODE)
            return fail(x, v, "'modules' must be a list of module names, such as "
                              "[roster, presence]");
        for (yaml_node_item_t *it = v->data.sequence.items.start;
             it < v->data.sequence.items.top; it++) {
            const yaml_node_t *m = yaml_document_get_node(x->doc, *it);
            const char *mname = scalar(m);
            if (!module_name_ok(mname))
                return fail(x, m, "'%s' is not a module name", mname ? mname : "?");
            for (size_t i = 0; i < h->nmodules; i++)
                if (strcmp(h->modules[i], mname) == 0)
                    return fail(x, m, "module '%s' is listed twice", mname);
            if (h->nmodules == CONFIG_MAX_MODULES)
                return fail(x, m, "too many modules (at most %d)", CONFIG_MAX_MODULES);
            h->modules[h->nmodules++] = aldis_strdup(mname);
            h->modules[h->nmodules] = NULL;
        }
        return 0;
    }
    return unknown_key(x, section, k);
}

static int hosts_parse(struct ctx *x, const yaml_node_t *seq)
{
    struct config *c = x->c;
    if (is_null(seq) || seq->type != YAML_SEQUENCE_NODE)
        return fail(x, seq, "'hosts' must be a list of hosts, each with at least "
                            "'- domain: example.org'");
    for (yaml_node_item_t *it = seq->data.sequence.items.start;
         it < seq->data.sequence.items.top; it++) {
        const yaml_node_t *hn = yaml_document_get_node(x->doc, *it);
        if (c->nhosts == CONFIG_MAX_HOSTS)
            return fail(x, hn, "too many hosts (at most %d)", CONFIG_MAX_HOSTS);
        struct host_config *h = &c->hosts[c->nhosts++];
        struct host_ctx hc = {.h = h};
        if (hn->type != YAML_MAPPING_NODE)
            return fail(x, hn, "each entry of 'hosts' must be a mapping with a "
                               "'domain' key");
        int rc = map_walk(x, "hosts", hn, host_pair, &hc);
        if (rc != 0)
            return rc;
        if (!h->domain)
            return fail(x, hn, "host without 'domain'");
        for (size_t i = 0; i + 1 < c->nhosts; i++)
            if (strcmp(c->hosts[i].domain, h->domain) == 0)
                return fail(x, hc.domain_node, "host '%s' is defined twice", h->domain);
        /* Defaults are what `aldisctl init` writes: DOMAIN.crt / DOMAIN.key
         * beside the config file. Only explicit paths must exist now. */
        if (hc.cert_node &&
            (rc = check_exists(x, hc.cert_node, "certificate", h->certificate)) != 0)
            return rc;
        if (hc.key_node && (rc = check_exists(x, hc.key_node, "key", h->key)) != 0)
            return rc;
        char name[JID_PART_MAX + 8];
        if (!h->certificate) {
            snprintf(name, sizeof name, "%s.crt", h->domain);
            h->certificate = path_resolve(c, name);
        }
        if (!h->key) {
            snprintf(name, sizeof name, "%s.key", h->domain);
            h->key = path_resolve(c, name);
        }
    }
    if (c->nhosts == 0)
        return fail(x, seq, "'hosts' is empty: at least one host is required");
    return 0;
}

/* ---- module options --------------------------------------------------- */

struct modopt_ctx {
    const char *module;
};

static void modopt_add(struct config *c, const char *module, const char *key,
                       char *value, int line)
{
    struct module_option *grown =
        realloc(c->module_options, (c->nmodule_options + 1) * sizeof *grown);
    ALDIS_ASSERT(grown != NULL);
    c->module_options = grown;
    struct module_option *o = &grown[c->nmodule_options++];
    o->module = aldis_strdup(module);
    o->key = aldis_strdup(key);
    o->value = value;
    o->line = line;
    o->used = false;
}

static int modopt_pair(struct ctx *x, const char *section, const yaml_node_t *k,
                       const yaml_node_t *v, void *ud)
{
    struct modopt_ctx *mc = ud;
    char *value;
    if (v->type == YAML_MAPPING_NODE)
        return fail(x, v, "option '%s' for module '%s' must be a value or a list",
                    scalar(k), mc->module);
    if (v->type == YAML_SEQUENCE_NODE) {
        /* A list reaches the module as one string, items separated by
         * newlines (config_module_str). */
        size_t total = 1;
        for (yaml_node_item_t *it = v->data.sequence.items.start;
             it < v->data.sequence.items.top; it++) {
            const char *s = scalar(yaml_document_get_node(x->doc, *it));
            if (!s)
                return fail(x, v, "option '%s' for module '%s': list items must "
                                  "be values", scalar(k), mc->module);
            total += strlen(s) + 1;
        }
        value = calloc(1, total);
        ALDIS_ASSERT(value != NULL);
        for (yaml_node_item_t *it = v->data.sequence.items.start;
             it < v->data.sequence.items.top; it++) {
            if (it != v->data.sequence.items.start)
                strcat(value, "\n");
            strcat(value, scalar(yaml_document_get_node(x->doc, *it)));
        }
    } else {
        value = aldis_strdup(is_null(v) ? "" : scalar(v));
    }
    modopt_add(x->c, mc->module, scalar(k), value, node_line(k));
    return 0;
}

static int modules_pair(struct ctx *x, const char *section, const yaml_node_t *k,
                        const yaml_node_t *v, void *ud)
{
    const char *module = scalar(k);
    if (!module_name_ok(module))
        return fail(x, k, "'%s' is not a module name", module);
    char sub[96];
    snprintf(sub, sizeof sub, "modules.%s", module);
    struct modopt_ctx mc = {module};
    return map_walk(x, sub, v, modopt_pair, &mc);
}

/* ---- top level -------------------------------------------------------- */

struct top_ctx {
    const yaml_node_t *hosts;
};

static int top_pair(struct ctx *x, const char *section, const yaml_node_t *k,
                    const yaml_node_t *v, void *ud)
{
    struct top_ctx *tc = ud;
    struct config *c = x->c;
    const char *name = scalar(k);
    long n;
    int rc;

    if (strcmp(name, "log_level") == 0)
        return get_enum(x, v, name, log_levels, &c->log_level);
    if (strcmp(name, "workers") == 0) {
        if ((rc = get_long(x, v, name, 0, 256, false, &n)) == 0)
            c->workers = (int)n;
        return rc;
    }
    if (strcmp(name, "hosts") == 0) {
        tc->hosts = v;
        return hosts_parse(x, v);
    }
    if (strcmp(name, "listen") == 0)
        return map_walk(x, "listen", v, listen_pair, NULL);
    if (strcmp(name, "storage") == 0)
        return map_walk(x, "storage", v, row_pair, (void *)storage_rows);
    if (strcmp(name, "c2s") == 0)
        return map_walk(x, "c2s", v, row_pair, (void *)c2s_rows);
    if (strcmp(name, "tls") == 0)
        return map_walk(x, "tls", v, row_pair, (void *)tls_rows);
    if (strcmp(name, "limits") == 0)
        return map_walk(x, "limits", v, row_pair, (void *)limits_rows);
    if (strcmp(name, "auth") == 0)
        return map_walk(x, "auth", v, row_pair, (void *)auth_rows);
    if (strcmp(name, "security") == 0)
        return map_walk(x, "security", v, row_pair, (void *)security_rows);
    if (strcmp(name, "http") == 0)
        return map_walk(x, "http", v, row_pair, (void *)http_rows);
    if (strcmp(name, "modules") == 0)
        return map_walk(x, "modules", v, modules_pair, NULL);
    return unknown_key(x, "top level", k);
}

static void defaults_set(struct config *c)
{
    c->log_level = aldis_strdup(DEF_LOG_LEVEL);
    c->workers = 0;
    struct {
        struct listen_config *lc;
        int port;
    } l[] = {{&c->c2s, DEF_PORT_C2S},   {&c->c2s_tls, DEF_PORT_C2S_TLS},
             {&c->s2s, DEF_PORT_S2S},   {&c->http, DEF_PORT_HTTP},
             {&c->https, DEF_PORT_HTTPS}, {&c->component, DEF_PORT_COMPONENT}};
    for (size_t i = 0; i < sizeof l / sizeof l[0]; i++) {
        l[i].lc->address = aldis_strdup(DEF_ADDRESS);
        l[i].lc->port = l[i].port;
    }
    c->store_backend = aldis_strdup(DEF_STORE_BACKEND);
    c->store_path = path_resolve(c, DEF_STORE_PATH);
    c->require_encryption = true;
    c->allow_plain = true;
    c->sm_resume_timeout = 300;
    c->sm_max_queue = 1000;
    c->tls_min_version = aldis_strdup(DEF_TLS_MIN);
    c->tls_ciphers = NULL;
    c->max_stanza_size = DEF_MAX_STANZA_SIZE;
    c->max_depth = DEF_MAX_DEPTH;
    c->max_attrs = DEF_MAX_ATTRS;
    c->handshake_timeout = DEF_HANDSHAKE_TIMEOUT;
    c->idle_timeout = DEF_IDLE_TIMEOUT;
    c->ping_timeout = DEF_PING_TIMEOUT;
    c->max_sessions_per_user = DEF_MAX_SESSIONS;
    c->auth_fail_per_ip = DEF_AUTH_FAIL_IP;
    c->auth_fail_per_account = DEF_AUTH_FAIL_ACCOUNT;
    c->auth_fail_window = DEF_AUTH_FAIL_WINDOW;
    c->rate_bytes_per_sec = 0;
    c->http_max_body = 1024 * 1024;
    c->http_max_conns_per_ip = 64;
    c->http_max_header_size = 8192;
    c->http_timeout = 20;
    c->http_bosh_inactivity = 60;
    c->http_trust_loopback = true;
}

/* Two enabled listeners may not share a port on overlapping addresses
 * ("::" covers every IPv4 and IPv6 address, "0.0.0.0" every IPv4 one). */
static int listeners_check(struct ctx *x)
{
    const struct config *c = x->c;
    for (size_t i = 0; listener_rows[i].name; i++) {
        const struct listen_config *a =
            (const void *)((const char *)c + listener_rows[i].offset);
        for (size_t j = i + 1; a->port && listener_rows[j].name; j++) {
            const struct listen_config *b =
                (const void *)((const char *)c + listener_rows[j].offset);
            if (b->port != a->port)
                continue;
            bool wild = strcmp(a->address, "::") == 0 || strcmp(b->address, "::") == 0 ||
                        strcmp(a->address, b->address) == 0 ||
                        ((strcmp(a->address, "0.0.0.0") == 0 ||
                          strcmp(b->address, "0.0.0.0") == 0) &&
                         !strchr(a->address, ':') && !strchr(b->address, ':'));
            if (wild) {
                snprintf(x->err, x->errlen,
                         "%s: listeners '%s' and '%s' both use port %d; give one "
                         "another port, or 0 to disable it",
                         x->file, listener_rows[i].name, listener_rows[j].name,
                         a->port);
                return ALDIS_ECONFIG;
            }
        }
    }
    return 0;
}

/* The config file's absolute directory, from its path. */
static int dir_of(const char *path, char **abs_path, char **dir)
{
    char *real = realpath(path, NULL);
    if (!real)
        return ALDIS_EIO;
    char *slash = strrchr(real, '/');
    *dir = slash == real ? aldis_strdup("/") : strndup(real, (size_t)(slash - real));
    ALDIS_ASSERT(*dir != NULL);
    *abs_path = real;
    return 0;
}

struct config *config_load(const char *path, char *err, size_t errlen)
{
    struct config *c = NULL;
    FILE *fp = NULL;
    yaml_parser_t parser;
    yaml_document_t doc;
    bool parser_ok = false, doc_ok = false;
    struct ctx x = {.file = path, .doc = &doc, .err = err, .errlen = errlen};
    int rc = ALDIS_ECONFIG;

    if (!(fp = fopen(path, "rb"))) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    c = calloc(1, sizeof *c);
    ALDIS_ASSERT(c != NULL);
    if (dir_of(path, &c->path, &c->dir) != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", path, strerror(errno));
        goto out;
    }
    x.c = c;
    defaults_set(c);

    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "%s: cannot start the YAML parser", path);
        goto out;
    }
    parser_ok = true;
    yaml_parser_set_input_file(&parser, fp);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s:%d: YAML syntax error: %s%s%s", path,
                 (int)parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "unknown problem",
                 parser.context ? " " : "", parser.context ? parser.context : "");
        goto out;
    }
    doc_ok = true;

    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || is_null(root)) {
        snprintf(err, errlen, "%s:1: the file is empty; at least 'hosts' is required",
                 path);
        goto out;
    }
    if (root->type != YAML_MAPPING_NODE) {
        fail(&x, root, "the file must be a mapping of 'key: value' lines");
        goto out;
    }
    struct top_ctx tc = {0};
    if ((rc = map_walk(&x, "top level", root, top_pair, &tc)) != 0)
        goto out;
    if (!tc.hosts) {
        rc = fail(&x, root, "'hosts' is required: a list of at least one "
                            "'- domain: example.org'");
        goto out;
    }
    rc = listeners_check(&x);
out:
    if (doc_ok)
        yaml_document_delete(&doc);
    if (parser_ok)
        yaml_parser_delete(&parser);
    if (fp)
        fclose(fp);
    if (rc != 0) {
        config_free(c);
        return NULL;
    }
    return c;
}

void config_free(struct config *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->dir);
    free(c->log_level);
    for (size_t i = 0; i < c->nhosts; i++) {
        struct host_config *h = &c->hosts[i];
        free(h->domain);
        free(h->certificate);
        free(h->key);
        for (size_t m = 0; m < h->nmodules; m++)
            free(h->modules[m]);
    }
    struct listen_config *l[] = {&c->c2s,  &c->c2s_tls, &c->s2s,
                                 &c->http, &c->https,   &c->component};
    for (size_t i = 0; i < sizeof l / sizeof l[0]; i++)
        free(l[i]->address);
    free(c->store_backend);
    free(c->store_path);
    free(c->tls_min_version);
    free(c->tls_ciphers);
    free(c->client_ca);
    free(c->http_static_dir);
    free(c->http_metrics_token);
    free(c->security_policy);
    free(c->security_audit_log);
    free(c->security_default_label);
    free(c->security_binding_key);
    free(c->security_binding_cert);
    free(c->security_binding_ca);
    for (size_t i = 0; i < c->nmodule_options; i++) {
        free(c->module_options[i].module);
        free(c->module_options[i].key);
        free(c->module_options[i].value);
    }
    free(c->module_options);
    free(c);
}

const struct host_config *config_host(const struct config *c, const char *domain)
{
    if (!c || !domain)
        return NULL;
    /* Domains are stored prepared (lower-case); accept any ASCII case. */
    for (size_t i = 0; i < c->nhosts; i++)
        if (strcasecmp(c->hosts[i].domain, domain) == 0)
            return &c->hosts[i];
    return NULL;
}

/* ---- module option lookups -------------------------------------------- */

/* The option, marked as read; NULL when the file does not set it. */
static struct module_option *modopt_find(const struct config *c, const char *module,
                                         const char *key)
{
    for (size_t i = 0; c && i < c->nmodule_options; i++) {
        struct module_option *o = &c->module_options[i];
        if (strcmp(o->module, module) == 0 && strcmp(o->key, key) == 0) {
            o->used = true;
            return o;
        }
    }
    return NULL;
}

int config_module_int(const struct config *c, const char *module, const char *key,
                      long def, long min, long max, long *out, char *err,
                      size_t errlen)
{
    struct module_option *o = modopt_find(c, module, key);
    long n;
    *out = def;
    if (!o)
        return 0;
    if (parse_long_text(o->value, false, &n) != 0 || n < min || n > max) {
        snprintf(err, errlen,
                 "%s:%d: option '%s' for module '%s' must be an integer from %ld "
                 "to %ld, not '%s'",
                 c->path, o->line, key, module, min, max, o->value);
        return ALDIS_ECONFIG;
    }
    *out = n;
    return 0;
}

int config_module_bool(const struct config *c, const char *module, const char *key,
                       bool def, bool *out, char *err, size_t errlen)
{
    struct module_option *o = modopt_find(c, module, key);
    *out = def;
    if (!o)
        return 0;
    if (parse_bool_text(o->value, out) != 0) {
        *out = def;
        snprintf(err, errlen,
                 "%s:%d: option '%s' for module '%s' must be true or false, not '%s'",
                 c->path, o->line, key, module, o->value);
        return ALDIS_ECONFIG;
    }
    return 0;
}

const char *config_module_str(const struct config *c, const char *module,
                              const char *key, const char *def)
{
    struct module_option *o = modopt_find(c, module, key);
    return o ? o->value : def;
}

int config_check_unused(const struct config *c, char *err, size_t errlen)
{
    for (size_t i = 0; c && i < c->nmodule_options; i++) {
        const struct module_option *o = &c->module_options[i];
        if (!o->used) {
            snprintf(err, errlen, "%s:%d: unknown option '%s' for module '%s'",
                     c->path, o->line, o->key, o->module);
            return ALDIS_ECONFIG;
        }
    }
    return 0;
}
