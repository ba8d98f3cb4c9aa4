/* upload_http.c - the XEP-0363 file store as the HTTP server sees it
 * (aldis/upload.h): signed PUTs written to a temporary file and moved into
 * place once the slot is marked used in the store, and GETs that look the
 * file up in the store and hand back an open descriptor.
 *
 * Every function runs on the worker that handles the HTTP request; the only
 * shared state is the base URL (set rarely, under a lock) and the options,
 * read-only once mod_upload's init has run. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aldis/buf.h"
#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/store_upload.h"
#include "aldis/upload.h"
#include "aldis/worker.h"
#include "core/security.h"
#include "modules/upload_internal.h"

#define BASE_URL_MAX 256

/* ---- base URL ------------------------------------------------------------- */

/* Replaced strings stay allocated until the module stops, so a pointer
 * returned by upload_base_url() never dangles while workers run. */
struct base_url {
    struct base_url *older;
    char url[];
};
static pthread_mutex_t base_lock = PTHREAD_MUTEX_INITIALIZER;
static struct base_url *base_current;

void upload_set_base_url(const char *base_url)
{
    pthread_mutex_lock(&base_lock);
    if (!base_url) {
        for (struct base_url *b = base_current, *older; b; b = older) {
            older = b->older;
            free(b);
        }
        base_current = NULL;
    } else if (strlen(base_url) <= BASE_URL_MAX &&
               (!base_current || strcmp(base_current->url, base_url) != 0)) {
        size_t len = strlen(base_url);
        struct base_url *b = malloc(sizeof *b + len + 1);
        ALDIS_ASSERT(b != NULL);
        memcpy(b->url, base_url, len + 1);
        b->older = base_current;
        base_current = b;
    }
    pthread_mutex_unlock(&base_lock);
}

const char *upload_base_url(void)
{
    pthread_mutex_lock(&base_lock);
    const char *url = base_current ? base_current->url : NULL;
    pthread_mutex_unlock(&base_lock);
    return url;
}

/* ---- helpers -------------------------------------------------------------- */

static void set_why(char *why, size_t whylen, const char *text)
{
    if (why && whylen)
        snprintf(why, whylen, "%s", text);
}

static int fail(int *status, char *why, size_t whylen, int code, const char *text)
{
    *status = code;
    set_why(why, whylen, text);
    return code >= 500 ? ALDIS_EIO : ALDIS_EINVAL;
}

/* Run fn(arg) from the calling worker's loop, never inside the caller
 * (callbacks of this API are "called later"); at once off a worker. */
static void defer(worker_fn fn, void *arg)
{
    struct worker *w = worker_current();
    if (w)
        worker_post(worker_id(w), fn, arg);
    else
        fn(NULL, arg);
}

/* ---- PUT ------------------------------------------------------------------ */

struct upload_put {
    int fd;
    char id[UPLOAD_ID_LEN + 1];
    char tmp[PATH_MAX];
    char final[PATH_MAX];
    uint64_t expected, written;
    upload_status_cb done;
    void *ud;
    int status;
    const char *why;
};

static int put_check(const char *path, const char *query, uint64_t content_length,
                     const char *content_type, struct upload_put **out, int *status,
                     char *why, size_t whylen)
{
    *out = NULL;
    *status = 0;
    if (!upload_opts.ready)
        return fail(status, why, whylen, 503, "uploads are not enabled");
    struct upload_path p;
    struct upload_query q;
    char ctype[UPLOAD_CTYPE_MAX + 1], sig[UPLOAD_SIG_HEX + 1];
    if (upload__path_parse(path, &p) < 0)
        return fail(status, why, whylen, 404, "no such upload slot");
    if (upload__query_parse(query, &q) < 0)
        return fail(status, why, whylen, 403, "missing or malformed signature");
    if (upload__ctype_clean(content_type, ctype, sizeof ctype) < 0)
        return fail(status, why, whylen, 400, "malformed Content-Type");
    /* The signature covers the id, name, size, content type and expiry the
     * slot was made with: a URL cannot be altered, and a Content-Type other
     * than the slot's fails here too. */
    if (upload__sign(upload_opts.secret, upload_opts.secret_len, p.id, p.name, q.size, ctype,
                     q.expiry, sig) < 0 ||
        !upload__sig_equal(sig, q.sig))
        return fail(status, why, whylen, 403, "bad signature (or Content-Type not the slot's)");
    if (q.expiry < (int64_t)time(NULL))
        return fail(status, why, whylen, 403, "upload slot expired");
    if (content_length != q.size)
        return fail(status, why, whylen, content_length > q.size ? 413 : 400,
                    "Content-Length is not the size the slot was requested for");
    if (content_length > upload_opts.max_file_size)
        return fail(status, why, whylen, 413, "file too large");
    struct upload_put *u = calloc(1, sizeof *u);
    ALDIS_ASSERT(u != NULL);
    u->fd = -1;
    memcpy(u->id, p.id, sizeof u->id);
    u->expected = content_length;
    char suffix[UPLOAD_ID_LEN + 1];
    if (upload__file_path(upload_opts.dir, p.id, u->final, sizeof u->final) < 0 ||
        upload__id_new(suffix) < 0 ||
        snprintf(u->tmp, sizeof u->tmp, "%s/tmp/%s.%.8s", upload_opts.dir, p.id, suffix) >=
            (int)sizeof u->tmp) {
        free(u);
        return fail(status, why, whylen, 500, "cannot name the file");
    }
    /* Cheap early answer for a second PUT of a used slot; the store's
     * single-use mark decides races (upload_put_finish). */
    struct stat sb;
    if (stat(u->final, &sb) == 0) {
        free(u);
        return fail(status, why, whylen, 409, "upload slot already used");
    }
    u->fd = open(u->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (u->fd < 0) {
        log_warn("upload", "cannot create %s: %s", u->tmp, strerror(errno));
        free(u);
        return fail(status, why, whylen, 500, "cannot store the file");
    }
    *out = u;
    return 0;
}

int upload_put_begin(const char *path, const char *query, uint64_t content_length,
                     const char *content_type, struct upload_put **out, int *status,
                     char *why, size_t whylen)
{
    int rc = put_check(path, query, content_length, content_type, out, status, why, whylen);
    if (rc < 0)
        /* Not the path or query themselves: they are the client's bytes. */
        log_debug("upload", "PUT refused (query of %zu bytes, Content-Length %llu): %d %s",
                  query ? strlen(query) : 0, (unsigned long long)content_length, *status,
                  why ? why : "");
    return rc;
}

int upload_put_write(struct upload_put *u, const void *data, size_t len, int *status,
                     char *why, size_t whylen)
{
    *status = 0;
    if (len > u->expected - u->written)
        return fail(status, why, whylen, 413, "more bytes than Content-Length");
    const char *p = data;
    while (len) {
        ssize_t n = write(u->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_warn("upload", "writing %s: %s", u->tmp, strerror(errno));
            return fail(status, why, whylen, 500,
                        "cannot store the file");
        }
        p += n;
        len -= (size_t)n;
        u->written += (uint64_t)n;
    }
    return 0;
}

static void put_free(struct upload_put *u, bool drop_tmp)
{
    if (u->fd >= 0)
        close(u->fd);
    if (drop_tmp)
        unlink(u->tmp);
    free(u);
}

void upload_put_abort(struct upload_put *u)
{
    if (u)
        put_free(u, true);
}

static void put_answer(struct worker *w, void *arg)
{
    (void)w;
    struct upload_put *u = arg;
    upload_status_cb done = u->done;
    void *ud = u->ud;
    int status = u->status;
    const char *why = u->why;
    put_free(u, status != 201);
    done(ud, status, why);
}

static void put_completed(void *arg, int err)
{
    struct upload_put *u = arg;
    if (err == ALDIS_EEXIST) {
        u->status = 409, u->why = "upload slot already used";
    } else if (err == ALDIS_ENOTFOUND) {
        u->status = 404, u->why = "upload slot no longer exists";
    } else if (err < 0) {
        u->status = 503, u->why = "storage unavailable";
    } else {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", u->final);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        if ((mkdir(dir, 0700) < 0 && errno != EEXIST) || rename(u->tmp, u->final) < 0) {
            log_warn("upload", "cannot move %s into place: %s", u->tmp, strerror(errno));
            store_upload_del(u->id, NULL, NULL); /* the slot is spoilt: no dangling row */
            u->status = 500, u->why = "cannot store the file";
        } else {
            log_info("upload", "file %s stored (%llu bytes)", u->id,
                     (unsigned long long)u->written);
            u->status = 201, u->why = "Created";
        }
    }
    put_answer(NULL, u);
}

void upload_put_finish(struct upload_put *u, upload_status_cb done, void *ud)
{
    u->done = done;
    u->ud = ud;
    if (u->written != u->expected) {
        u->status = 400, u->why = "fewer bytes than Content-Length";
        defer(put_answer, u);
        return;
    }
    /* On disk before anyone can GET it (the rename publishes it). */
    int rc = fdatasync(u->fd);
    int rc2 = close(u->fd);
    u->fd = -1;
    if (rc < 0 || rc2 < 0) {
        log_warn("upload", "flushing %s: %s", u->tmp, strerror(errno));
        u->status = 500, u->why = "cannot store the file";
        defer(put_answer, u);
        return;
    }
    store_upload_complete(u->id, put_completed, u);
}

/* ---- GET / HEAD ----------------------------------------------------------- */

struct upload_get {
    char *content_type;
    char *filename;
};

struct get_req {
    upload_open_cb cb;
    void *ud;
    char requester[UPLOAD_TOKEN_JID_MAX + 1]; /* from the token; "" = anonymous */
    bool token_bad;                           /* a token was given and refused */
    struct upload_path path;
    int status;
    const char *why;
};

static void get_req_free(struct get_req *r)
{
    free(r);
}

static void get_fail(struct worker *w, void *arg)
{
    (void)w;
    struct get_req *r = arg;
    r->cb(r->ud, r->status, r->why, NULL, NULL);
    get_req_free(r);
}

/* May `requester` (a bare JID, NULL when anonymous) have this file? The
 * one decision of the labels work (ARCHITECTURE.md §6) over the file's
 * stored label; an unlabelled file takes the policy's default label, so
 * with the usual default (the lowest classification) it stays a
 * capability: whoever knows the unguessable URL (XEP-0363 §7). */
static bool file_access_permitted(const struct upload_rec *rec, const char *requester)
{
    /* The decision looks for labels inside an element: wrap the stored one. */
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "<file>%s</file>", rec->label ? rec->label : "");
    struct stanza *label = stanza_parse(b.data, b.len);
    buf_free(&b);
    if (!label) {
        log_warn("upload", "file %s: stored label unreadable; refusing it", rec->id);
        return false;
    }
    bool ok = security_element_visible(requester, label->root, SECURITY_PATH_UPLOAD, rec->owner);
    stanza_unref(label);
    return ok;
}

static void get_found(void *ud, int err, const struct upload_rec *rec)
{
    struct get_req *r = ud;
    if (err == ALDIS_ENOTFOUND || (err == 0 && (!rec->completed ||
                                                strcmp(rec->filename, r->path.name) != 0))) {
        r->status = 404, r->why = "no such file";
        get_fail(NULL, r);
        return;
    }
    if (err < 0) {
        r->status = 503, r->why = "storage unavailable";
        get_fail(NULL, r);
        return;
    }
    if (!file_access_permitted(rec, r->requester[0] ? r->requester : NULL)) {
        /* RFC 6750 §3: no (valid) token is 401 with a challenge; a valid
         * token of someone not cleared is 403. Either way nothing about
         * the file (type, size, name) goes out. */
        if (r->requester[0])
            r->status = 403, r->why = "not cleared for this file";
        else if (r->token_bad)
            r->status = 401, r->why = "download token invalid or expired";
        else
            r->status = 401, r->why = "this file is labelled: authenticate with a download token";
        get_fail(NULL, r);
        return;
    }
    char path[PATH_MAX];
    struct stat sb;
    int fd = -1;
    if (upload__file_path(upload_opts.dir, rec->id, path, sizeof path) < 0 ||
        (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 || fstat(fd, &sb) < 0 ||
        !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != rec->size) {
        if (fd >= 0)
            close(fd);
        if (errno == ENOENT) {
            r->status = 404, r->why = "no such file"; /* removed by a sweep meanwhile */
        } else {
            log_warn("upload", "file %s unreadable or of the wrong size", rec->id);
            r->status = 500, r->why = "file unavailable";
        }
        get_fail(NULL, r);
        return;
    }
    struct upload_get *g = calloc(1, sizeof *g);
    ALDIS_ASSERT(g != NULL);
    g->content_type = strdup(rec->content_type);
    g->filename = strdup(rec->filename);
    ALDIS_ASSERT(g->content_type && g->filename);
    struct upload_file_info info = {.fd = fd, .size = rec->size,
                                    .content_type = g->content_type,
                                    .filename = g->filename, .created = rec->created,
                                    .restricted = rec->label != NULL};
    r->cb(r->ud, 200, "OK", g, &info);
    get_req_free(r);
}

/* "Bearer TOKEN" (RFC 6750 §2.1; the scheme is case-insensitive). */
static void get_credentials(struct get_req *r, const char *authorization)
{
    if (!authorization || !*authorization)
        return;
    if (strncasecmp(authorization, "Bearer ", 7) != 0 ||
        upload__token_check(upload_opts.secret, upload_opts.secret_len, authorization + 7,
                            (int64_t)time(NULL), r->requester, sizeof r->requester) < 0) {
        r->requester[0] = '\0';
        r->token_bad = true;
    }
}

void upload_get_open(const char *path, const char *authorization, upload_open_cb cb, void *ud)
{
    struct get_req *r = calloc(1, sizeof *r);
    ALDIS_ASSERT(r != NULL);
    r->cb = cb;
    r->ud = ud;
    if (upload_opts.ready)
        get_credentials(r, authorization);
    if (!upload_opts.ready) {
        r->status = 503, r->why = "uploads are not enabled";
        defer(get_fail, r);
    } else if (upload__path_parse(path, &r->path) < 0) {
        r->status = 404, r->why = "no such file";
        defer(get_fail, r);
    } else {
        upload__sweep_start();
        store_upload_get(r->path.id, get_found, r);
    }
}

void upload_get_close(struct upload_get *g)
{
    if (!g)
        return;
    free(g->content_type);
    free(g->filename);
    free(g);
}
