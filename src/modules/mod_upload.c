/* mod_upload.c - XEP-0363 HTTP File Upload as a service domain
 * ("upload.HOST"): the module table and options, the service's disco#info
 * (store/file, max-file-size form), slot requests with their size, quota
 * and name checks, the signed PUT and GET URLs, and the retention sweep.
 * The HTTP side of the files (PUT, GET) is upload_http.c; the pure helpers
 * are upload_util.c; rows live in the store (aldis/store_upload.h).
 *
 * Stanzas for the service arrive on worker_owner_of(service domain); slot
 * rows are written through the store thread, whose FIFO and one
 * transaction per slot make the quota check exact across workers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "aldis/buf.h"
#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/module.h"
#include "aldis/store_upload.h"
#include "aldis/upload.h"
#include "aldis/worker.h"
#include "core/router.h"
#include "core/security.h"
#include "modules/upload_internal.h"

#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_PING "urn:xmpp:ping"
#define NS_DATA "jabber:x:data"
/* Download tokens for labelled files (docs/security-labels.md). */
#define NS_UPLOAD_AUTH "urn:aldis:upload:auth:0"
/* Bytes of a file's stored <securitylabel/>. */
#define UPLOAD_LABEL_MAX 16384

#define UPLOAD_SWEEP_BATCH 256
/* An unused slot's row stays this long past its expiry, so an upload that
 * started in time (the PUT checked the expiry) can still complete. */
#define UPLOAD_SLOT_GRACE 3600

struct upload_options upload_opts;
struct module mod_upload;

/* Where URLs point when the HTTP server has not said (upload_base_url):
 * this scheme and port on the service domain. */
static const char *fallback_scheme;
static int fallback_port;

static int64_t now_seconds(void)
{
    return (int64_t)time(NULL);
}

/* ---- disco (XEP-0363 §3) -------------------------------------------------- */

static void add_field(struct stanza *st, struct xml_node *x, const char *var, const char *type,
                      const char *value)
{
    struct xml_node *f = xml_add_child(st, x, "field", NULL);
    xml_set_attr(st, f, "var", var);
    if (type)
        xml_set_attr(st, f, "type", type);
    struct xml_node *v = xml_add_child(st, f, "value", NULL);
    xml_add_text(st, v, value, strlen(value));
}

/* The service is a store/file entity; the XEP-0128 form tells clients the
 * largest file up front, saving a refused request. */
static void service_disco_info(struct stanza *iq)
{
    struct stanza *reply = stanza_iq_result(iq);
    struct xml_node *q = xml_add_child(reply, reply->root, "query", NS_DISCO_INFO);
    struct xml_node *id = xml_add_child(reply, q, "identity", NULL);
    xml_set_attr(reply, id, "category", "store");
    xml_set_attr(reply, id, "type", "file");
    xml_set_attr(reply, id, "name", "HTTP File Upload");
    static const char *const features[] = {NS_DISCO_INFO, NS_DISCO_ITEMS, NS_HTTP_UPLOAD,
                                           NS_UPLOAD_AUTH, NS_PING, NULL};
    for (const char *const *f = features; *f; f++) {
        struct xml_node *fe = xml_add_child(reply, q, "feature", NULL);
        xml_set_attr(reply, fe, "var", *f);
    }
    struct xml_node *x = xml_add_child(reply, q, "x", NS_DATA);
    xml_set_attr(reply, x, "type", "result");
    add_field(reply, x, "FORM_TYPE", "hidden", NS_HTTP_UPLOAD);
    char max[24];
    snprintf(max, sizeof max, "%llu", (unsigned long long)upload_opts.max_file_size);
    add_field(reply, x, "max-file-size", NULL, max);
    router_route(reply);
}

/* ---- slot requests (XEP-0363 §4, §5) -------------------------------------- */

struct slot_req {
    struct stanza *iq;
    struct service *svc;
    struct upload_rec rec; /* borrowed strings point into the buffers below */
    char id[UPLOAD_ID_LEN + 1];
    char owner[JID_STR_MAX];
    char filename[UPLOAD_FILENAME_MAX + 1];
    char ctype[UPLOAD_CTYPE_MAX + 1];
    char *label; /* the file's <securitylabel/>, serialised, or NULL */
};

static void slot_req_free(struct slot_req *r)
{
    if (r->iq)
        stanza_unref(r->iq);
    free(r->label);
    free(r);
}

/* An error with the XEP-0363 child: <file-too-large> or <retry>. */
static struct xml_node *error_child(struct stanza *reply, const char *name)
{
    struct xml_node *err = xml_child(reply->root, "error", NULL);
    ALDIS_ASSERT(err != NULL);
    return xml_add_child(reply, err, name, NS_HTTP_UPLOAD);
}

static void format_stamp(int64_t t, char *out, size_t outlen)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm); /* XEP-0082 */
}

/* §5: too large for the service; the limit goes with the refusal. */
static void reply_too_large(struct stanza *iq)
{
    char text[96], max[24];
    snprintf(max, sizeof max, "%llu", (unsigned long long)upload_opts.max_file_size);
    snprintf(text, sizeof text, "File too large. The maximum file size is %s bytes", max);
    struct stanza *reply = stanza_error_reply(iq, "modify", "not-acceptable", text);
    struct xml_node *ftl = error_child(reply, "file-too-large");
    struct xml_node *m = xml_add_child(reply, ftl, "max-file-size", NULL);
    xml_add_text(reply, m, max, strlen(max));
    router_route(reply);
}

/* §5: over quota; <retry/> says when room frees up by itself, if it will:
 * an unused slot expiring, or the oldest file reaching its retention. */
static void reply_quota(struct stanza *iq, const struct upload_usage *u)
{
    int64_t retry = u->next_expiry;
    if (upload_opts.retention_days > 0 && u->oldest_created > 0) {
        int64_t freed = u->oldest_created + upload_opts.retention_days * 86400;
        if (retry == 0 || freed < retry)
            retry = freed;
    }
    struct stanza *reply = stanza_error_reply(iq, "wait", "resource-constraint",
                                              "Quota reached: upload fewer or smaller files");
    if (retry > 0) {
        char stamp[32];
        format_stamp(retry, stamp, sizeof stamp);
        xml_set_attr(reply, error_child(reply, "retry"), "stamp", stamp);
    }
    router_route(reply);
}

/* base_url + "/upload/" + id + "/" + encoded name, into out. */
static int slot_url(const struct slot_req *r, char *out, size_t outlen)
{
    char name[3 * UPLOAD_FILENAME_MAX + 1], base[300];
    const char *b = upload_base_url();
    if (!b) {
        if (!fallback_scheme)
            return ALDIS_ENOTFOUND;
        snprintf(base, sizeof base, "%s://%s:%d", fallback_scheme, r->svc->domain, fallback_port);
        b = base;
    }
    if (upload__url_encode(r->filename, name, sizeof name) < 0)
        return ALDIS_ELIMIT;
    size_t blen = strlen(b);
    while (blen && b[blen - 1] == '/')
        blen--; /* UPLOAD_PATH_PREFIX brings its own */
    int n = snprintf(out, outlen, "%.*s%s%s/%s", (int)blen, b, UPLOAD_PATH_PREFIX, r->id, name);
    return n > 0 && (size_t)n < outlen ? 0 : ALDIS_ELIMIT;
}

static void slot_reply(struct slot_req *r)
{
    char get[1400], put[1600], sig[UPLOAD_SIG_HEX + 1];
    if (slot_url(r, get, sizeof get) < 0) {
        router_bounce(r->iq, "cancel", "service-unavailable", "No HTTP listener for uploads");
        return;
    }
    if (upload__sign(upload_opts.secret, upload_opts.secret_len, r->id, r->filename,
                     r->rec.size, r->ctype, r->rec.expires, sig) < 0) {
        router_bounce(r->iq, "wait", "internal-server-error", NULL);
        return;
    }
    snprintf(put, sizeof put, "%s?v=%s&e=%lld&s=%llu", get, sig, (long long)r->rec.expires,
             (unsigned long long)r->rec.size);
    struct stanza *reply = stanza_iq_result(r->iq);
    struct xml_node *slot = xml_add_child(reply, reply->root, "slot", NS_HTTP_UPLOAD);
    /* The PUT URL carries its authorisation (signature and expiry), so no
     * <header/> is needed: §4 makes them optional. */
    xml_set_attr(reply, xml_add_child(reply, slot, "put", NULL), "url", put);
    xml_set_attr(reply, xml_add_child(reply, slot, "get", NULL), "url", get);
    router_route(reply);
}

static void slot_added(void *ud, int err, const struct upload_usage *usage)
{
    struct slot_req *r = ud;
    if (err == 0) {
        log_debug("upload", "slot %s for %s: %s, %llu bytes, %s", r->id, r->owner, r->filename,
                  (unsigned long long)r->rec.size, r->ctype);
        slot_reply(r);
    } else if (err == ALDIS_ELIMIT) {
        reply_quota(r->iq, usage);
    } else {
        log_warn("upload", "slot for %s not recorded: %s", r->owner, aldis_strerror(err));
        router_bounce(r->iq, "wait", "internal-server-error", NULL);
    }
    slot_req_free(r);
}

/* A size attribute: decimal digits only (xs:long, no sign). */
static int parse_size(const char *s, uint64_t *out)
{
    if (!s || !*s || strlen(s) > 18)
        return ALDIS_EINVAL;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return ALDIS_EINVAL;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

/* A slot request may carry one XEP-0258 <securitylabel/> inside <request/>
 * (an IQ get has exactly one child, RFC 6120 §8.2.3):
 * the file is then labelled, and served only to requesters cleared for it
 * (upload_http.c). Whether the uploader may apply the label was decided
 * when the request left its session (security_session_send). *out gets
 * the label serialised (NULL: unlabelled). */
static int slot_label(const struct stanza *iq, char **out)
{
    const struct xml_node *found[2];
    *out = NULL;
    int n = security_labels_find(iq->root, found, 2, SECURITY_LABEL_DEPTH_MAX);
    if (n < 0 || n > 1)
        return ALDIS_EINVAL;
    if (n == 0)
        return 0;
    struct buf b;
    buf_init(&b);
    xml_serialize(found[0], "jabber:client", &b);
    if (b.len == 0 || b.len > UPLOAD_LABEL_MAX) {
        buf_free(&b);
        return ALDIS_ELIMIT;
    }
    *out = buf_steal(&b, NULL);
    return 0;
}

static void slot_request(struct service *svc, struct stanza *iq, struct xml_node *req,
                         const struct jid *from)
{
    /* Only the served host's own users get slots (the quota is theirs). */
    if (!from->local || strcmp(from->domain, svc->host->domain) != 0) {
        router_bounce(iq, "cancel", "not-allowed", "Only local users may upload here");
        return;
    }
    if (!upload_base_url() && !fallback_scheme) {
        /* Checked before the slot is recorded: it would count for nothing. */
        router_bounce(iq, "cancel", "service-unavailable", "No HTTP listener for uploads");
        return;
    }
    uint64_t size;
    const char *fname = xml_attr(req, "filename");
    if (!fname || !*fname || parse_size(xml_attr(req, "size"), &size) < 0) {
        router_bounce(iq, "modify", "bad-request", "filename and size are required");
        return;
    }
    struct slot_req *r = calloc(1, sizeof *r);
    ALDIS_ASSERT(r != NULL);
    if (upload__filename_clean(fname, r->filename, sizeof r->filename) < 0) {
        router_bounce(iq, "modify", "not-acceptable", "This filename is not acceptable");
        goto fail;
    }
    if (upload__ctype_clean(xml_attr(req, "content-type"), r->ctype, sizeof r->ctype) < 0) {
        router_bounce(iq, "modify", "bad-request", "Malformed content-type");
        goto fail;
    }
    if (size > upload_opts.max_file_size) {
        reply_too_large(iq);
        goto fail;
    }
    if (slot_label(iq, &r->label) < 0) {
        router_bounce(iq, "modify", "bad-request", "A file carries at most one security label");
        goto fail;
    }
    if (upload__id_new(r->id) < 0) {
        router_bounce(iq, "wait", "internal-server-error", NULL);
        goto fail;
    }
    jid_bare(from, r->owner, sizeof r->owner);
    r->iq = stanza_ref(iq);
    r->svc = svc;
    int64_t now = now_seconds();
    r->rec = (struct upload_rec){.id = r->id, .owner = r->owner, .filename = r->filename,
                                 .content_type = r->ctype, .size = size, .created = now,
                                 .expires = now + upload_opts.slot_lifetime, .label = r->label};
    store_upload_add(&r->rec, upload_opts.quota, slot_added, r);
    return;
fail:
    slot_req_free(r);
}

/* A download token for the requester (urn:aldis:upload:auth:0): labelled
 * files are served to `Authorization: Bearer TOKEN` naming a user cleared
 * for the label. Only the host's own users: the token stands for them. */
static void token_request(struct service *svc, struct stanza *iq, const struct jid *from)
{
    char bare[JID_STR_MAX], token[UPLOAD_TOKEN_MAX], stamp[32];
    if (!from->local || strcmp(from->domain, svc->host->domain) != 0) {
        router_bounce(iq, "cancel", "not-allowed", "Only local users get download tokens");
        return;
    }
    int64_t expires = now_seconds() + upload_opts.token_lifetime;
    if (upload__token_make(upload_opts.secret, upload_opts.secret_len,
                           jid_bare(from, bare, sizeof bare), expires, token, sizeof token) < 0) {
        router_bounce(iq, "wait", "internal-server-error", NULL);
        return;
    }
    format_stamp(expires, stamp, sizeof stamp);
    struct stanza *reply = stanza_iq_result(iq);
    struct xml_node *t = xml_add_child(reply, reply->root, "token", NS_UPLOAD_AUTH);
    xml_set_attr(reply, t, "expires", stamp);
    xml_add_text(reply, t, token, strlen(token));
    router_route(reply);
}

static void upload_stanza(struct service *svc, struct stanza *st, const struct jid *to,
                          const struct jid *from)
{
    upload__sweep_start();
    if (strcmp(stanza_name(st), "iq") != 0) {
        if (strcmp(stanza_name(st), "message") == 0)
            router_bounce(st, "cancel", "service-unavailable", NULL);
        return; /* presence to the service means nothing */
    }
    const char *type = stanza_type(st);
    if (!type || (strcmp(type, "get") != 0 && strcmp(type, "set") != 0))
        return;
    if (to->local || to->resource) {
        router_bounce(st, "cancel", "service-unavailable", NULL); /* nothing lives there */
        return;
    }
    bool get = strcmp(type, "get") == 0;
    struct xml_node *payload = xml_first_elem(st->root);
    if (!payload) {
        router_bounce(st, "modify", "bad-request", NULL);
    } else if (xml_is(payload, "request", NS_HTTP_UPLOAD)) {
        if (get)
            slot_request(svc, st, payload, from);
        else
            router_bounce(st, "modify", "bad-request", "A slot request is an IQ get");
    } else if (xml_is(payload, "token", NS_UPLOAD_AUTH) && get) {
        token_request(svc, st, from);
    } else if (xml_is(payload, "query", NS_DISCO_INFO) && get) {
        if (xml_attr(payload, "node"))
            router_bounce(st, "cancel", "item-not-found", NULL);
        else
            service_disco_info(st);
    } else if (xml_is(payload, "query", NS_DISCO_ITEMS) && get) {
        if (xml_attr(payload, "node")) {
            router_bounce(st, "cancel", "item-not-found", NULL);
        } else {
            struct stanza *reply = stanza_iq_result(st);
            xml_add_child(reply, reply->root, "query", NS_DISCO_ITEMS);
            router_route(reply);
        }
    } else if (xml_is(payload, "ping", NS_PING) && get) {
        router_route(stanza_iq_result(st)); /* XEP-0199 §4.2 */
    } else {
        router_bounce(st, "cancel", "service-unavailable", NULL);
    }
}

/* ---- retention sweep ------------------------------------------------------ */

/* The timer lives on the first worker that needs it (a worker's handles
 * are closed by the core when it stops); only that worker touches these. */
static uv_timer_t sweep_timer;
static atomic_int sweep_worker = -1;
static bool sweep_running;

static void sweep_run(void);

static void sweep_done(void *ud, int err, char *const *ids, size_t n)
{
    (void)ud;
    sweep_running = false;
    if (err < 0) {
        log_warn("upload", "retention sweep failed: %s", aldis_strerror(err));
        return;
    }
    size_t removed = 0;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        if (upload__file_path(upload_opts.dir, ids[i], path, sizeof path) < 0)
            continue;
        if (unlink(path) == 0)
            removed++;
        else if (errno != ENOENT) /* an unused slot has no file */
            log_warn("upload", "cannot remove %s: %s", path, strerror(errno));
    }
    if (n)
        log_info("upload", "sweep: %zu slot(s) ended, %zu file(s) removed", n, removed);
    if (n == UPLOAD_SWEEP_BATCH)
        sweep_run(); /* more to do: the next batch now */
}

static void sweep_run(void)
{
    if (sweep_running)
        return;
    sweep_running = true;
    int64_t now = now_seconds();
    int64_t files_before =
        upload_opts.retention_days > 0 ? now - upload_opts.retention_days * 86400 : 0;
    store_upload_sweep(files_before, now - UPLOAD_SLOT_GRACE, UPLOAD_SWEEP_BATCH, sweep_done,
                       NULL);
}

static void sweep_tick(uv_timer_t *t)
{
    (void)t;
    sweep_run();
}

void upload__sweep_start(void)
{
    struct worker *w = worker_current();
    int expected = -1;
    if (!w || !upload_opts.ready || atomic_load(&sweep_worker) != -1 ||
        !atomic_compare_exchange_strong(&sweep_worker, &expected, worker_id(w)))
        return;
    uv_timer_init(worker_loop(w), &sweep_timer);
    uint64_t every = (uint64_t)upload_opts.sweep_interval * 1000;
    uv_timer_start(&sweep_timer, sweep_tick, 1000, every);
    uv_unref((uv_handle_t *)&sweep_timer); /* never keeps a stopping loop alive */
}

/* The first account loaded starts the timer, so the sweep runs on a server
 * nobody uploads to as well (files of deleted accounts, retention). */
static int upload_account_loaded(struct hook_ctx *ctx)
{
    (void)ctx;
    upload__sweep_start();
    return HOOK_PASS;
}

/* ---- lifecycle ------------------------------------------------------------ */

static int mkdir_p(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return ALDIS_ELIMIT;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
            return ALDIS_EIO;
        *p = '/';
    }
    return mkdir(tmp, mode) < 0 && errno != EEXIST ? ALDIS_EIO : 0;
}

static int hex_decode(const char *in, size_t len, unsigned char *out, size_t outlen)
{
    if (len % 2 || len / 2 > outlen)
        return ALDIS_EINVAL;
    for (size_t i = 0; i < len / 2; i++) {
        unsigned v;
        if (sscanf(in + 2 * i, "%2x", &v) != 1)
            return ALDIS_EINVAL;
        out[i] = (unsigned char)v;
    }
    return (int)(len / 2);
}

/* The HMAC key: the `secret` option, else DIR/secret (made once, 0600). */
static int secret_load(const char *opt, char *err, size_t errlen)
{
    if (opt) {
        size_t len = strlen(opt);
        if (len < 16 || len > UPLOAD_SECRET_MAX) {
            snprintf(err, errlen, "module upload: secret must be 16 to %d characters",
                     UPLOAD_SECRET_MAX);
            return ALDIS_ECONFIG;
        }
        memcpy(upload_opts.secret, opt, len);
        upload_opts.secret_len = len;
        return 0;
    }
    char path[PATH_MAX], hex[2 * UPLOAD_SECRET_MAX + 2];
    snprintf(path, sizeof path, "%s/secret", upload_opts.dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        struct stat sb;
        if (fstat(fd, &sb) == 0 && (sb.st_mode & 077))
            log_warn("upload", "%s is readable by others: whoever reads it can forge upload "
                     "URLs (chmod 600 it)", path);
        ssize_t n = read(fd, hex, sizeof hex - 1);
        close(fd);
        while (n > 0 && (hex[n - 1] == '\n' || hex[n - 1] == '\r'))
            n--;
        int len = n > 0 ? hex_decode(hex, (size_t)n, upload_opts.secret, UPLOAD_SECRET_MAX) : -1;
        OPENSSL_cleanse(hex, sizeof hex);
        if (len < 16) {
            snprintf(err, errlen, "module upload: %s is not a usable key (delete it to make a "
                     "new one)", path);
            return ALDIS_ECONFIG;
        }
        upload_opts.secret_len = (size_t)len;
        return 0;
    }
    if (errno != ENOENT) {
        snprintf(err, errlen, "module upload: cannot read %s: %s", path, strerror(errno));
        return ALDIS_ECONFIG;
    }
    unsigned char key[32];
    if (RAND_bytes(key, sizeof key) != 1)
        return ALDIS_EIO;
    for (size_t i = 0; i < sizeof key; i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    hex[2 * sizeof key] = '\n';
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    bool ok = fd >= 0 && write(fd, hex, 2 * sizeof key + 1) == (ssize_t)(2 * sizeof key + 1);
    if (fd >= 0 && (close(fd) < 0 || !ok))
        unlink(path);
    OPENSSL_cleanse(hex, sizeof hex);
    if (!ok) {
        OPENSSL_cleanse(key, sizeof key);
        snprintf(err, errlen, "module upload: cannot write %s: %s", path, strerror(errno));
        return ALDIS_ECONFIG;
    }
    memcpy(upload_opts.secret, key, sizeof key);
    upload_opts.secret_len = sizeof key;
    OPENSSL_cleanse(key, sizeof key);
    return 0;
}

/* Partial uploads of a previous run can never complete: remove them. */
static void tmp_clean(void)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/tmp", upload_opts.dir);
    DIR *d = opendir(path);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
}

static bool enabled_anywhere(const struct config *cfg)
{
    for (size_t i = 0; i < cfg->nhosts; i++)
        if (host_module_enabled(host_find(cfg->hosts[i].domain), &mod_upload))
            return true;
    return false;
}

static int upload_init(const struct config *cfg, char *err, size_t errlen)
{
    long max_size, quota, lifetime, retention, sweep, token_lifetime;
    int rc;
    if ((rc = config_module_int(cfg, "upload", "max_file_size", 100L << 20, 1, 1L << 40,
                                &max_size, err, errlen)) < 0 ||
        (rc = config_module_int(cfg, "upload", "quota", 1L << 30, 0, 1L << 50, &quota, err,
                                errlen)) < 0 ||
        (rc = config_module_int(cfg, "upload", "slot_lifetime", 300, 1, 86400, &lifetime, err,
                                errlen)) < 0 ||
        (rc = config_module_int(cfg, "upload", "retention", 0, 0, 36500, &retention, err,
                                errlen)) < 0 ||
        (rc = config_module_int(cfg, "upload", "sweep_interval", 3600, 1, 86400, &sweep, err,
                                errlen)) < 0 ||
        (rc = config_module_int(cfg, "upload", "token_lifetime", 3600, 60, 7 * 86400,
                                &token_lifetime, err, errlen)) < 0)
        return rc;
    const char *dir = config_module_str(cfg, "upload", "dir", "uploads");
    const char *secret = config_module_str(cfg, "upload", "secret", NULL);
    upload_opts.max_file_size = (uint64_t)max_size;
    upload_opts.quota = (uint64_t)quota;
    upload_opts.slot_lifetime = lifetime;
    upload_opts.retention_days = retention;
    upload_opts.sweep_interval = sweep;
    upload_opts.token_lifetime = token_lifetime;
    fallback_scheme = cfg->https.port ? "https" : cfg->http.port ? "http" : NULL;
    fallback_port = cfg->https.port ? cfg->https.port : cfg->http.port;
    if (!enabled_anywhere(cfg))
        return 0; /* options checked; nothing on disk */

    /* A relative dir is under the store file's directory (the instance),
     * or the config's directory for a store that is not a file. */
    char base[PATH_MAX], path[PATH_MAX];
    snprintf(base, sizeof base, "%s", cfg->dir ? cfg->dir : ".");
    if (cfg->store_path && cfg->store_backend && strcmp(cfg->store_backend, "sqlite") == 0) {
        snprintf(base, sizeof base, "%s", cfg->store_path);
        char *slash = strrchr(base, '/');
        if (slash && slash != base)
            *slash = '\0';
        else
            snprintf(base, sizeof base, "%s", slash ? "/" : ".");
    }
    if (snprintf(path, sizeof path, dir[0] == '/' ? "%s" : "%s/%s", dir[0] == '/' ? dir : base,
                 dir) >= (int)sizeof path - 80) {
        snprintf(err, errlen, "module upload: dir path too long");
        return ALDIS_ECONFIG;
    }
    free(upload_opts.dir);
    upload_opts.dir = aldis_strdup(path);
    static const char *const subdirs[] = {"", "/files", "/tmp"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s%s", upload_opts.dir, subdirs[i]);
        if (mkdir_p(path, 0700) < 0) {
            snprintf(err, errlen, "module upload: cannot create %s: %s", path, strerror(errno));
            return ALDIS_ECONFIG;
        }
    }
    if ((rc = secret_load(secret, err, errlen)) < 0)
        return rc;
    tmp_clean();
    upload_opts.ready = true;
    return 0;
}

static void upload_shutdown(void)
{
    upload_opts.ready = false;
    OPENSSL_cleanse(upload_opts.secret, sizeof upload_opts.secret);
    upload_opts.secret_len = 0;
    free(upload_opts.dir);
    upload_opts.dir = NULL;
    atomic_store(&sweep_worker, -1);
    sweep_running = false;
    upload_set_base_url(NULL);
}

static const struct hook_row upload_hooks[] = {
    {HOOK_ACCOUNT_LOADED, -100, upload_account_loaded},
    {0},
};
static const struct iq_handler upload_iq[] = {{0}};

struct module mod_upload = {
    .name = "upload",
    .hooks = upload_hooks,
    .iq_handlers = upload_iq,
    .init = upload_init,
    .shutdown = upload_shutdown,
    .service_subdomain = "upload",
    .service_stanza = upload_stanza,
};
