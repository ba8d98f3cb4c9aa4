/* security.c - label enforcement (ARCHITECTURE.md §6): the process-wide
 * policy and default label, the audit log, and security_decide(), the one
 * place that asks label_decide() about a stanza for a recipient. The
 * delivery paths (router, sessions, offline, archive, PubSub, MUC) call the
 * thin wrappers below; docs/security-labels.md maps each path to its call.
 *
 * Cost for unlabelled traffic when the default label is the policy's floor
 * (the usual case): one walk over the stanza's elements looking for
 * <securitylabel/>, no allocation, no parse. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/store_labels.h"
#include "aldis/worker.h"
#include "core/account.h"
#include "core/router.h"
#include "core/security.h"
#include "core/session.h"
#include "lib/map.h"
#include "store/backend_labels.h"

/* mod_labels keeps the per-account and per-session clearances in its
 * module slots; the core only reads them through the functions below. */
extern struct module mod_labels;

static struct {
    struct label_policy *policy;
    struct label *dflt;          /* label of unlabelled content */
    bool dflt_is_floor;          /* every clearance permits dflt */
    struct clearance *floor;     /* clearance_default: holders with none set */
    int audit_fd;                /* -1 when off */
    bool audit_deliveries;
    bool certificate_clearance;
    bool label_unlabelled; /* the server labels unlabelled messages with the default */
    char *binding_key;     /* STANAG 4778: the server binds labels with this key */
    char *binding_cert;
    /* Clearances by subject (struct clearance *) for the checks made away
     * from the holder's owner: rooms, the accounts joining them, PubSub
     * requesters. Read from the store at startup; an account's entry is
     * refreshed whenever its owner loads it (security_subject_update), so
     * a clearance changed with aldisctl applies at the account's next
     * login. A read-mostly cache under a rwlock: readers hold it only for
     * one lookup and decision, writers only to swap one entry. */
    struct map snapshot;
    bool snapshot_ready;
    char *binding_ca; /* CAs for STANAG 4778 bindings, NULL = signature only */
} sec = {.audit_fd = -1};
static pthread_rwlock_t snapshot_lock = PTHREAD_RWLOCK_INITIALIZER;

static const char *const path_names[SECURITY_PATH_COUNT] = {
    [SECURITY_PATH_SEND] = "send",       [SECURITY_PATH_INBOUND] = "inbound",
    [SECURITY_PATH_DELIVER] = "deliver", [SECURITY_PATH_OFFLINE] = "offline",
    [SECURITY_PATH_ARCHIVE] = "archive", [SECURITY_PATH_PUBSUB] = "pubsub",
    [SECURITY_PATH_MUC] = "muc",         [SECURITY_PATH_CATALOG] = "catalog",
    [SECURITY_PATH_UPLOAD] = "upload",   [SECURITY_PATH_PEER] = "peer",
};

const char *security_path_name(enum security_path path)
{
    return (unsigned)path < SECURITY_PATH_COUNT ? path_names[path] : "?";
}

/* ---- startup ------------------------------------------------------------- */

/* At most this many clearances are read into the snapshot; more is a
 * configuration error rather than a silent truncation. */
#define SECURITY_SNAPSHOT_MAX 200000

struct snapshot_load {
    struct map *into; /* not yet shared: filled without the lock */
    size_t n;
    char *err;
    size_t errlen;
};

static int snapshot_add(void *ud, const char *subject, const char *text)
{
    struct snapshot_load *sl = ud;
    struct clearance *c = NULL;
    char why[256] = "";
    if (++sl->n > SECURITY_SNAPSHOT_MAX) {
        snprintf(sl->err, sl->errlen, "more than %d stored clearances", SECURITY_SNAPSHOT_MAX);
        return ALDIS_ELIMIT;
    }
    /* A stored clearance the policy no longer accepts falls back to the
     * lowest (it is left out), never to something higher. */
    if (clearance_parse(sec.policy, text, &c, why, sizeof why) < 0) {
        log_warn("security", "stored clearance of %s does not parse under the policy (%s): "
                 "treated as the lowest", subject, why);
        return 0;
    }
    clearance_free(map_get(sl->into, subject));
    map_put(sl->into, subject, c);
    return 0;
}

static void snapshot_map_free(struct map *m)
{
    void *v;
    for (size_t it = 0; map_next(m, &it, NULL, &v);)
        clearance_free(v);
    map_free(m);
}

/* Every stored clearance into `into` (a map of its own: a separate
 * connection to the store, which SQLite's WAL lets read beside the store
 * thread). */
static int snapshot_read(const struct config *cfg, struct map *into, size_t *n, char *err,
                         size_t errlen)
{
    char berr[512] = "";
    map_init(into, 0);
    *n = 0;
    if (!cfg->store_backend || !cfg->store_path ||
        (strcmp(cfg->store_backend, "sqlite") == 0 && access(cfg->store_path, F_OK) != 0))
        return 0;
    struct store_backend *b = backend_open(cfg->store_backend, cfg->store_path, berr, sizeof berr);
    if (!b)
        return 0; /* store_open reports it with the right advice */
    struct snapshot_load sl = {into, 0, err, errlen};
    int rc = backend_labels_list(b, snapshot_add, &sl);
    backend_close(b);
    *n = sl.n;
    if (rc == ALDIS_ENOTHANDLED)
        rc = 0;
    if (rc < 0 && rc != ALDIS_ELIMIT)
        snprintf(err, errlen, "%s: reading the stored clearances failed: %s", cfg->path,
                 aldis_strerror(rc));
    return rc < 0 ? ALDIS_ECONFIG : 0;
}

static int snapshot_load(const struct config *cfg, char *err, size_t errlen)
{
    size_t n;
    int rc = snapshot_read(cfg, &sec.snapshot, &n, err, errlen);
    sec.snapshot_ready = true;
    log_info("security", "%zu stored clearance(s) read", n);
    return rc;
}

int security_clearances_reload(const struct config *cfg, char *err, size_t errlen)
{
    struct map fresh, old;
    size_t n;
    if (!sec.policy || !sec.snapshot_ready)
        return 0;
    int rc = snapshot_read(cfg, &fresh, &n, err, errlen);
    if (rc < 0) {
        snapshot_map_free(&fresh);
        return rc;
    }
    pthread_rwlock_wrlock(&snapshot_lock);
    old = sec.snapshot;
    sec.snapshot = fresh;
    pthread_rwlock_unlock(&snapshot_lock);
    snapshot_map_free(&old);
    log_info("security", "reload: %zu stored clearance(s) read", n);
    return 0;
}

static void snapshot_free(void)
{
    if (!sec.snapshot_ready)
        return;
    pthread_rwlock_wrlock(&snapshot_lock);
    snapshot_map_free(&sec.snapshot);
    sec.snapshot_ready = false;
    pthread_rwlock_unlock(&snapshot_lock);
}

/* Callers hold snapshot_lock (read) while they use the result. */
static const struct clearance *subject_clearance(const char *bare)
{
    const struct clearance *c = NULL;
    if (sec.snapshot_ready && bare)
        c = map_get(&sec.snapshot, bare);
    return c ? c : sec.floor;
}

void security_subject_update(const char *bare, const struct clearance *c)
{
    if (!sec.policy || !sec.snapshot_ready || !bare)
        return;
    struct clearance *copy = c ? clearance_dup(c) : NULL;
    pthread_rwlock_wrlock(&snapshot_lock);
    clearance_free(c ? map_get(&sec.snapshot, bare) : map_del(&sec.snapshot, bare));
    if (copy)
        map_put(&sec.snapshot, bare, copy);
    pthread_rwlock_unlock(&snapshot_lock);
}

/* security.binding_key/binding_cert: both or neither, and they must sign
 * (tried once on a sample message, so a bad key stops the start rather
 * than every labelled message later). */
static int binding_key_check(const struct config *cfg, char *err, size_t errlen)
{
    char why[256] = "";
    if (!cfg->security_binding_key && !cfg->security_binding_cert)
        return 0;
    if (!cfg->security_binding_key || !cfg->security_binding_cert) {
        snprintf(err, errlen, "%s: security.binding_key and security.binding_cert go together",
                 cfg->path);
        return ALDIS_ECONFIG;
    }
    struct stanza *st = stanza_new("message", NULL);
    struct xml_node *body = xml_add_child(st, st->root, "body", NULL);
    xml_add_text(st, body, "binding key check", 17);
    int rc = label_binding_sign(sec.policy, sec.dflt, st, cfg->security_binding_key,
                                cfg->security_binding_cert, why, sizeof why);
    stanza_unref(st);
    if (rc < 0) {
        snprintf(err, errlen, "%s: security.binding_key %s / binding_cert %s: %s", cfg->path,
                 cfg->security_binding_key, cfg->security_binding_cert,
                 why[0] ? why : "cannot sign with them");
        return ALDIS_ECONFIG;
    }
    sec.binding_key = strdup(cfg->security_binding_key);
    sec.binding_cert = strdup(cfg->security_binding_cert);
    ALDIS_ASSERT(sec.binding_key && sec.binding_cert);
    return 0;
}

int security_start(const struct config *cfg, char *err, size_t errlen)
{
    char why[256] = "";
    int rc = 0;
    security_stop();
    sec.audit_deliveries = cfg->security_audit_deliveries;
    sec.certificate_clearance = cfg->security_certificate_clearance;
    sec.label_unlabelled = cfg->security_label_unlabelled;
    if (cfg->security_binding_ca) {
        sec.binding_ca = strdup(cfg->security_binding_ca);
        ALDIS_ASSERT(sec.binding_ca != NULL);
    }
    if (!cfg->security_policy) {
        log_info("security", "no security policy configured: labels are not enforced");
        goto out;
    }
    rc = label_policy_load(cfg->security_policy, &sec.policy, why, sizeof why);
    if (rc < 0) {
        /* the library's message names the policy file and line */
        snprintf(err, errlen, "%s: security.policy: %s", cfg->path,
                 why[0] ? why : aldis_strerror(rc));
        rc = ALDIS_ECONFIG;
        goto out;
    }
    rc = label_default(sec.policy, cfg->security_default_label, &sec.dflt);
    if (rc < 0) {
        snprintf(err, errlen, "%s: security.default_label '%s' is not a classification of %s",
                 cfg->path, cfg->security_default_label ? cfg->security_default_label : "",
                 cfg->security_policy);
        rc = ALDIS_ECONFIG;
        goto out;
    }
    rc = clearance_default(sec.policy, &sec.floor);
    if (rc < 0) {
        snprintf(err, errlen, "%s: security policy %s has no lowest classification", cfg->path,
                 cfg->security_policy);
        rc = ALDIS_ECONFIG;
        goto out;
    }
    /* Decided once: if the least clearance anyone holds permits the
     * default label, unlabelled content never needs label_decide. */
    sec.dflt_is_floor = label_decide(sec.policy, sec.floor, sec.dflt, why, sizeof why);
    if ((rc = snapshot_load(cfg, err, errlen)) < 0)
        goto out;
    if ((rc = binding_key_check(cfg, err, errlen)) < 0)
        goto out;
    if (cfg->security_audit_log) {
        sec.audit_fd = open(cfg->security_audit_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                            0600);
        if (sec.audit_fd < 0) {
            snprintf(err, errlen, "%s: security.audit_log %s: %s", cfg->path,
                     cfg->security_audit_log, strerror(errno));
            rc = ALDIS_ECONFIG;
            goto out;
        }
    }
    log_info("security", "policy %s (%s) loaded; unlabelled content is %s", label_policy_name(sec.policy),
             label_policy_id(sec.policy), label_classification(sec.policy, sec.dflt));
out:
    if (rc < 0)
        security_stop();
    return rc;
}

void security_stop(void)
{
    snapshot_free();
    free(sec.binding_ca);
    free(sec.binding_key);
    free(sec.binding_cert);
    sec.binding_ca = sec.binding_key = sec.binding_cert = NULL;
    label_free(sec.dflt);
    clearance_free(sec.floor);
    label_policy_free(sec.policy);
    if (sec.audit_fd >= 0)
        close(sec.audit_fd);
    sec.dflt = NULL;
    sec.floor = NULL;
    sec.policy = NULL;
    sec.audit_fd = -1;
}

bool security_active(void) { return sec.policy != NULL; }
const struct label_policy *security_policy(void) { return sec.policy; }
const struct clearance *security_default_clearance(void) { return sec.floor; }

/* ---- the decision over a stanza ------------------------------------------ */

static int labels_walk(const struct xml_node *el, const struct xml_node **found, int max, int *n,
                       int depth, int max_depth)
{
    for (const struct xml_node *c = el->children; c; c = c->next) {
        if (c->kind != XML_ELEM)
            continue;
        if (depth + 1 > max_depth)
            return -1; /* would leave part of the stanza unchecked */
        if (strcmp(c->name, "securitylabel") == 0 && strcmp(c->ns, LABEL_NS) == 0) {
            if (*n >= max)
                return -1;
            found[(*n)++] = c;
            continue; /* a label's own content is the label, not content */
        }
        if (labels_walk(c, found, max, n, depth + 1, max_depth) < 0)
            return -1;
    }
    return 0;
}

/* An XEP-0258 catalog answer (<iq type='result'><catalog/></iq>) lists the
 * labels its requester may apply; they label no content of the stanza, and
 * the catalog was already cut to the requester's clearance
 * (mod_labels.c), so they are not checked as content. */
static bool is_catalog_result(const struct xml_node *root)
{
    const char *type = xml_attr(root, "type");
    const struct xml_node *payload = xml_first_elem(root);
    return strcmp(root->name, "iq") == 0 && type && strcmp(type, "result") == 0 && payload &&
           xml_is(payload, "catalog", LABEL_CATALOG_NS) && !xml_next(payload, NULL, NULL);
}

int security_labels_find(const struct xml_node *root, const struct xml_node **found, int max,
                         int max_depth)
{
    int n = 0;
    if (!root || is_catalog_result(root))
        return 0;
    return labels_walk(root, found, max, &n, 0, max_depth) < 0 ? -1 : n;
}

static void copy_str(char *out, size_t size, const char *s)
{
    if (out && size)
        snprintf(out, size, "%s", s ? s : "-");
}

enum security_verdict security_decide(const struct label_policy *p, const struct label *dflt,
                                      bool dflt_is_floor, const struct clearance *c,
                                      const struct xml_node *root, char *label_out,
                                      size_t label_size, char *why, size_t whylen)
{
    const struct xml_node *found[SECURITY_LABELS_MAX];
    copy_str(label_out, label_size, "-");
    copy_str(why, whylen, "");
    int n = security_labels_find(root, found, SECURITY_LABELS_MAX, SECURITY_LABEL_DEPTH_MAX);
    if (n < 0) {
        copy_str(why, whylen, "too many or too deeply nested security labels");
        return SECURITY_MALFORMED;
    }
    if (n == 0) {
        if (dflt_is_floor)
            return SECURITY_PERMIT;
        copy_str(label_out, label_size, label_classification(p, dflt));
        return label_decide(p, c, dflt, why, whylen) ? SECURITY_PERMIT : SECURITY_DENY;
    }
    for (int i = 0; i < n; i++) {
        struct label *l = NULL;
        if (label_from_xep0258(p, found[i], &l, why, whylen) < 0 || !l) {
            label_free(l);
            if (why && whylen && !why[0])
                copy_str(why, whylen, "malformed security label");
            return SECURITY_MALFORMED;
        }
        copy_str(label_out, label_size, label_classification(p, l));
        bool ok = label_decide(p, c, l, why, whylen);
        label_free(l);
        if (!ok)
            return SECURITY_DENY;
    }
    return SECURITY_PERMIT;
}

/* ---- audit --------------------------------------------------------------- */

/* Append `s` to out[*len..size) with characters that could break the
 * one-event-one-line format replaced: control characters always, spaces
 * too in single-token fields. */
static void audit_put(char *out, size_t size, size_t *len, const char *s, bool token)
{
    if (!s || !*s)
        s = "-";
    for (; *s && *len + 1 < size; s++) {
        unsigned char ch = (unsigned char)*s;
        out[(*len)++] = (ch < 0x20 || ch == 0x7f || (token && ch == ' ')) ? '_' : (char)ch;
    }
    out[*len] = '\0';
}

size_t security_audit_format(char *out, size_t size, time_t when, const char *decision,
                             enum security_path path, const char *from, const char *to,
                             const char *label, const char *reason)
{
    struct tm tm;
    size_t len = 0;
    if (!size)
        return 0;
    out[0] = '\0';
    gmtime_r(&when, &tm);
    len = strftime(out, size, "%Y-%m-%dT%H:%M:%SZ ", &tm);
    audit_put(out, size, &len, decision, true);
    audit_put(out, size, &len, " path=", false);
    audit_put(out, size, &len, security_path_name(path), true);
    audit_put(out, size, &len, " from=", false);
    audit_put(out, size, &len, from, true);
    audit_put(out, size, &len, " to=", false);
    audit_put(out, size, &len, to, true);
    audit_put(out, size, &len, " label=", false);
    audit_put(out, size, &len, label, true);
    audit_put(out, size, &len, " reason=", false);
    audit_put(out, size, &len, reason, false);
    return len;
}

static void audit(const char *decision, enum security_path path, const char *from, const char *to,
                  const char *label, const char *reason)
{
    char line[1024];
    if (sec.audit_fd < 0)
        return;
    size_t len = security_audit_format(line, sizeof line - 1, time(NULL), decision, path, from,
                                       to, label, reason);
    line[len++] = '\n';
    /* One write per line on an O_APPEND descriptor: lines from different
     * workers never interleave. */
    if (write(sec.audit_fd, line, len) != (ssize_t)len)
        log_error("security", "audit log write failed: %s", strerror(errno));
}

/* ---- checks for the delivery paths ---------------------------------------- */

enum security_verdict security_check(const struct clearance *c, const struct stanza *st,
                                     enum security_path path, const char *from, const char *to,
                                     char *text, size_t textlen)
{
    char label[128], why[256];
    if (!sec.policy || !st)
        return SECURITY_PERMIT;
    if (!c)
        c = sec.floor;
    enum security_verdict v = security_decide(sec.policy, sec.dflt, sec.dflt_is_floor, c, st->root,
                                              label, sizeof label, why, sizeof why);
    if (v != SECURITY_PERMIT) {
        audit(v == SECURITY_MALFORMED ? "refuse" : "deny", path, from, to, label, why);
        log_info("security", "%s %s -> %s on %s: %s", v == SECURITY_MALFORMED ? "refused" : "denied",
                 from ? from : "-", to ? to : "-", security_path_name(path), why);
        if (text && textlen) {
            if (v == SECURITY_MALFORMED)
                snprintf(text, textlen, "Security label refused: %s", why);
            else if (path == SECURITY_PATH_MUC)
                snprintf(text, textlen, "This room does not accept content labelled %s", label);
            else if (path == SECURITY_PATH_SEND)
                snprintf(text, textlen, "You are not cleared to send content labelled %s", label);
            else if (path == SECURITY_PATH_PEER)
                snprintf(text, textlen, "The domain %s is not cleared for content labelled %s",
                         to ? to : "", label);
            else
                snprintf(text, textlen, "The recipient is not cleared for content labelled %s",
                         label);
        }
    } else if (sec.audit_deliveries && strcmp(label, "-") != 0) {
        audit("permit", path, from, to, label, "cleared");
    }
    return v;
}

const struct clearance *security_account_clearance(const struct account *acct)
{
    const struct clearance *c = NULL;
    if (acct && host_module_enabled(acct->host, &mod_labels))
        c = MODULE_DATA(acct, mod_labels);
    return c ? c : sec.floor;
}

/* A refused IQ result (e.g. PubSub items the requester may not see) would
 * leave the requester waiting for an answer that never comes (RFC 6120
 * §8.2.3: every request gets a reply): it gets <forbidden/> in the
 * answerer's name instead, which says that something was withheld but
 * nothing of what. */
static void iq_result_withheld(const struct stanza *st)
{
    const char *type = stanza_type(st);
    if (strcmp(stanza_name(st), "iq") != 0 || !type || strcmp(type, "result") != 0 ||
        !stanza_to(st) || !stanza_id(st))
        return;
    struct stanza *e = stanza_new("iq", NULL);
    xml_set_attr(e, e->root, "type", "error");
    xml_set_attr(e, e->root, "id", stanza_id(st));
    xml_set_attr(e, e->root, "to", stanza_to(st));
    if (stanza_from(st))
        xml_set_attr(e, e->root, "from", stanza_from(st));
    struct xml_node *err = xml_add_child(e, e->root, "error", NULL);
    xml_set_attr(e, err, "type", "auth");
    xml_add_child(e, err, "forbidden", NS_STANZAS);
    struct xml_node *t = xml_add_child(e, err, "text", NS_STANZAS);
    static const char msg[] = "The answer carried content you are not cleared for";
    xml_add_text(e, t, msg, sizeof msg - 1);
    router_route(e);
}

int security_account_inbound(struct account *acct, struct stanza *st)
{
    char text[300];
    if (!sec.policy)
        return 0;
    enum security_verdict v = security_check(security_account_clearance(acct), st,
                                             SECURITY_PATH_INBOUND, stanza_from(st), acct->bare,
                                             text, sizeof text);
    if (v == SECURITY_PERMIT)
        return 0;
    /* The sender learns why; the recipient learns nothing (RFC 6120 §8.3.3.5
     * forbidden; a malformed label is the sender's bad-request). */
    router_bounce(st, v == SECURITY_MALFORMED ? "modify" : "auth",
                  v == SECURITY_MALFORMED ? "bad-request" : "forbidden", text);
    iq_result_withheld(st);
    return ALDIS_EAUTH;
}

void security_session_clearance_set(struct session *s, struct clearance *c)
{
    clearance_free(session_data(s, &mod_labels));
    session_set_data(s, &mod_labels, c);
}

const struct clearance *security_session_clearance(struct session *s)
{
    const struct clearance *c = session_data(s, &mod_labels);
    return c ? c : sec.floor;
}

/* STANAG 4778: a binding of the label to the content, when the client sent
 * one, must verify (the library looks only at the stanza's direct children,
 * so this costs nothing for stanzas without one). Anything but "no binding"
 * or "valid" refuses the stanza, failures of the verifier included. */
static enum security_verdict binding_check(const struct stanza *st, const char *from,
                                           char *text, size_t textlen)
{
    bool bound = false;
    char why[256] = "";
    if (label_binding_verify(sec.policy, st->root, sec.binding_ca, &bound, why, sizeof why) == 0)
        return SECURITY_PERMIT;
    audit("refuse", SECURITY_PATH_SEND, from, stanza_to(st), "-", why[0] ? why : "bad binding");
    snprintf(text, textlen, "Security label binding refused: %s", why[0] ? why : "invalid");
    return SECURITY_MALFORMED;
}

/* What the server adds to a message a client sends, once it is permitted:
 * the default label when it has none (security.label_unlabelled), and a
 * STANAG 4778 binding of its label to its body signed with the server's
 * key when one is configured and the client sent none. Only messages with
 * a body: the binding covers the body. */
static int apply_and_bind(struct stanza *st, const char *from)
{
    char why[256] = "";
    if (st->frozen || strcmp(stanza_name(st), "message") != 0 ||
        !xml_child(st->root, "body", NULL))
        return 0;
    const struct xml_node *sl = xml_child(st->root, "securitylabel", LABEL_NS);
    if (!sl && sec.label_unlabelled) {
        if (label_attach(sec.policy, sec.dflt, LABEL_FORMAT_ESS, st, st->root) < 0)
            return ALDIS_EINVAL;
        sl = xml_child(st->root, "securitylabel", LABEL_NS);
    }
    if (!sec.binding_key || !sl)
        return 0;
    struct label *l = NULL;
    if (label_from_xep0258(sec.policy, sl, &l, why, sizeof why) < 0 || !l) {
        label_free(l);
        return 0; /* the checks before refuse malformed labels; nothing to bind */
    }
    int rc = label_binding_sign(sec.policy, l, st, sec.binding_key, sec.binding_cert, why,
                                sizeof why);
    label_free(l);
    if (rc == ALDIS_EEXIST)
        return 0; /* the client bound it (and it verified) */
    if (rc < 0)
        log_warn("security", "binding the label of a message from %s failed: %s", from, why);
    return rc < 0 ? rc : 0;
}

int security_session_send(struct session *s, struct stanza *st)
{
    char text[300];
    if (!sec.policy)
        return 0;
    enum security_verdict v = security_check(security_session_clearance(s), st,
                                             SECURITY_PATH_SEND, s->full, stanza_to(st), text,
                                             sizeof text);
    if (v == SECURITY_PERMIT)
        v = binding_check(st, s->full, text, sizeof text);
    if (v == SECURITY_PERMIT && apply_and_bind(st, s->full) < 0) {
        struct stanza *e = stanza_error_reply(st, "wait", "internal-server-error",
                                              "The server could not bind the security label");
        session_reply(s, e);
        stanza_unref(e);
        return ALDIS_EAUTH;
    }
    if (v == SECURITY_PERMIT)
        return 0;
    const char *type = stanza_type(st);
    bool is_error = type && strcmp(type, "error") == 0;
    bool is_result = type && strcmp(type, "result") == 0 && strcmp(stanza_name(st), "iq") == 0;
    if (!is_error && !is_result) {
        struct stanza *e = stanza_error_reply(st, v == SECURITY_MALFORMED ? "modify" : "auth",
                                              v == SECURITY_MALFORMED ? "bad-request" : "forbidden",
                                              text);
        /* The reply goes to the sender itself, without 'to' spoofing risk:
         * stanza_error_reply swapped to/from, so 'to' is the sender. */
        session_reply(s, e);
        stanza_unref(e);
    }
    return ALDIS_EAUTH;
}

int security_session_deliver(struct session *s, struct stanza *st)
{
    if (!sec.policy)
        return 0;
    return security_check(security_session_clearance(s), st, SECURITY_PATH_DELIVER,
                          stanza_from(st), s->full, NULL, 0) == SECURITY_PERMIT
               ? 0
               : ALDIS_EAUTH;
}

int security_account_permits(const struct account *acct, const struct stanza *st,
                             enum security_path path)
{
    if (!sec.policy)
        return 0;
    return security_check(security_account_clearance(acct), st, path, stanza_from(st),
                          acct->bare, NULL, 0) == SECURITY_PERMIT
               ? 0
               : ALDIS_EAUTH;
}

/* The bare JID of `jid` into buf (JIDs are checked before they get here;
 * an oversized one yields the default clearance). */
static const char *bare_of(const char *jid, char *buf, size_t size)
{
    size_t n = strcspn(jid, "/");
    if (n >= size)
        return "";
    memcpy(buf, jid, n);
    buf[n] = '\0';
    return buf;
}

int security_subject_permits(const char *jid, const struct stanza *st, enum security_path path,
                             const char *source)
{
    char bare[JID_STR_MAX];
    if (!sec.policy)
        return 0;
    pthread_rwlock_rdlock(&snapshot_lock);
    enum security_verdict v = security_check(subject_clearance(bare_of(jid, bare, sizeof bare)),
                                             st, path, source, jid, NULL, 0);
    pthread_rwlock_unlock(&snapshot_lock);
    return v == SECURITY_PERMIT ? 0 : ALDIS_EAUTH;
}

bool security_element_visible(const char *jid, const struct xml_node *el, enum security_path path,
                              const char *source)
{
    char label[128], why[256], bare[JID_STR_MAX];
    if (!sec.policy || !el)
        return true;
    pthread_rwlock_rdlock(&snapshot_lock);
    const struct clearance *c = jid ? subject_clearance(bare_of(jid, bare, sizeof bare)) : sec.floor;
    enum security_verdict v = security_decide(sec.policy, sec.dflt, sec.dflt_is_floor, c, el,
                                              label, sizeof label, why, sizeof why);
    pthread_rwlock_unlock(&snapshot_lock);
    if (v != SECURITY_PERMIT) {
        audit(v == SECURITY_MALFORMED ? "refuse" : "deny", path, source, jid ? jid : "anonymous",
              label, why);
    } else if (sec.audit_deliveries && strcmp(label, "-") != 0) {
        audit("permit", path, source, jid, label, "cleared");
    }
    return v == SECURITY_PERMIT;
}

bool security_item_visible(const char *jid, const struct xml_node *item, const char *service)
{
    return security_element_visible(jid, item, SECURITY_PATH_PUBSUB, service);
}

/* ---- peer domains --------------------------------------------------------- */

int security_peer_permits(const char *domain, const struct stanza *st, char *text,
                          size_t textlen)
{
    if (!sec.policy)
        return 0;
    pthread_rwlock_rdlock(&snapshot_lock);
    enum security_verdict v = security_check(subject_clearance(domain), st, SECURITY_PATH_PEER,
                                             stanza_from(st), domain, text, textlen);
    pthread_rwlock_unlock(&snapshot_lock);
    return v == SECURITY_PERMIT ? 0 : ALDIS_EAUTH;
}

/* ---- rooms --------------------------------------------------------------- */

bool security_room_join_allowed(const char *room_jid, const char *occupant_bare)
{
    if (!sec.policy)
        return true;
    pthread_rwlock_rdlock(&snapshot_lock);
    bool covered = clearance_covers(sec.policy, subject_clearance(occupant_bare),
                                    subject_clearance(room_jid));
    pthread_rwlock_unlock(&snapshot_lock);
    if (covered)
        return true;
    audit("deny", SECURITY_PATH_MUC, occupant_bare, room_jid, "-",
          "occupant clearance does not cover the room's");
    log_info("security", "denied %s entry to %s: clearance does not cover the room's",
             occupant_bare, room_jid);
    return false;
}

enum security_verdict security_room_message(const char *room_jid, const struct stanza *st,
                                            const char *from, char *text, size_t textlen)
{
    if (!sec.policy)
        return SECURITY_PERMIT;
    pthread_rwlock_rdlock(&snapshot_lock);
    enum security_verdict v = security_check(subject_clearance(room_jid), st, SECURITY_PATH_MUC,
                                             from, room_jid, text, textlen);
    pthread_rwlock_unlock(&snapshot_lock);
    return v;
}

/* ---- clearances from client certificates -------------------------------- */

struct cert_clearance {
    struct host *host;
    struct clearance *c;
    char bare[];
};

/* On the owner worker, once the account is loaded (after mod_labels read
 * the stored clearance): the certificate's replaces it, in the account,
 * the shared cache and the store, before the session's bind (posted later
 * from the same worker) copies it to the session. */
static void cert_clearance_apply(struct account *acct, void *arg)
{
    struct cert_clearance *cc = arg;
    if (host_module_enabled(acct->host, &mod_labels)) {
        struct buf text;
        buf_init(&text);
        clearance_free(MODULE_DATA(acct, mod_labels));
        MODULE_DATA(acct, mod_labels) = cc->c;
        cc->c = NULL;
        security_subject_update(acct->bare, MODULE_DATA(acct, mod_labels));
        if (clearance_format(sec.policy, MODULE_DATA(acct, mod_labels), &text) == 0 &&
            text.len <= LABELS_CLEARANCE_MAX) {
            store_labels_put(acct->bare, buf_cstr(&text), NULL, NULL);
            log_info("security", "%s: clearance %s from the client certificate", acct->bare,
                     buf_cstr(&text));
        }
        buf_free(&text);
    }
    clearance_free(cc->c);
    free(cc);
}

static void cert_clearance_on_owner(struct worker *w, void *arg)
{
    (void)w;
    struct cert_clearance *cc = arg;
    account_with(cc->host, cc->bare, cert_clearance_apply, cc);
}

void security_certificate_clearance(struct host *h, const char *bare, const unsigned char *der,
                                    size_t len)
{
    char why[256] = "";
    struct clearance *c = NULL;
    if (!sec.policy || !sec.certificate_clearance || !der)
        return;
    if (clearance_from_der(sec.policy, der, len, &c, why, sizeof why) < 0) {
        /* never higher than what is stored: the stored clearance stays */
        log_warn("security", "%s: the certificate's clearance is not usable (%s); keeping the "
                 "stored one", bare, why);
        audit("refuse", SECURITY_PATH_SEND, bare, bare, "-", "certificate clearance unusable");
        return;
    }
    size_t n = strlen(bare) + 1;
    struct cert_clearance *cc = malloc(sizeof *cc + n);
    ALDIS_ASSERT(cc != NULL);
    cc->host = h;
    cc->c = c;
    memcpy(cc->bare, bare, n);
    worker_post(worker_owner_of(bare), cert_clearance_on_owner, cc);
}
