/* upload.c - the HTTP side of XEP-0363 (§5 "Upload", §6 "Download"): PUT
 * bodies are streamed into the upload module's file as they arrive, GET and
 * HEAD stream the stored file back with its type, length and name, and
 * single byte ranges (RFC 9110 §14) answer 206, or 416 when unsatisfiable.
 * The module (include/aldis/upload.h) checks signatures, slots and labels;
 * this file only moves bytes and owns the HTTP request while the module's
 * asynchronous answers are pending. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/upload.h"
#include "http/http_internal.h"
#include "http/http_parse.h"
#include "http/metrics.h"

#define UPLOAD_CHUNK (64 * 1024) /* bytes per write while downloading */
#define UPLOAD_AUTH_MAX 1024     /* bytes of an Authorization header we read */
/* a refused PUT's body up to this size is read and dropped so the client
 * sees the answer; beyond it the connection is closed after answering */
#define UPLOAD_DISCARD_MAX (64u * 1024 * 1024)

/* One request waiting on the module. The connection and the pending
 * operation each hold a reference: whichever ends last frees it. */
struct upload_req {
    struct lws *wsi;        /* NULL once the connection is gone */
    int refs;
    bool head;
    bool answered;          /* the module's answer is in */
    bool headers_sent;
    bool failed;            /* a PUT write failed: the answer is the error */
    bool answered_early;    /* refused before the body: answer sent, body dropped */
    struct upload_put *put;
    struct upload_get *get;
    int fd;
    uint64_t off, end;      /* bytes still to send: [off, end) */
    int status;
    char why[160];
    char ctype[128];
    char disposition[400];
    char range[80];
    char last_modified[40];
    uint64_t size;
    bool restricted;        /* a labelled file: never kept by shared caches */
};

/* XEP-0363 §5: the web client is served from the host's origin while slot
 * URLs name the upload service, so every answer here allows any origin
 * (the URL itself is the capability; no cookies are involved). */
static const char *const cors_headers[] = {"access-control-allow-origin:", "*", NULL};

/* 401 carries the challenge of RFC 6750 §3 (download tokens). */
static const char *const cors_auth_headers[] = {
    "access-control-allow-origin:", "*",
    "www-authenticate:", "Bearer realm=\"upload\"",
    NULL,
};

static int upload_error(struct lws *wsi, int status, const char *text)
{
    char body[256];
    int n = snprintf(body, sizeof body, "%d %s\n", status, text);
    return http_respond(wsi, status, "text/plain; charset=utf-8",
                        status == 401 ? cors_auth_headers : cors_headers, body,
                        (size_t)n < sizeof body ? (size_t)n : sizeof body - 1);
}

/* The browser's preflight before a cross-origin PUT with a Content-Type. */
static int upload_preflight(struct lws *wsi)
{
    static const char *const h[] = {
        "access-control-allow-origin:", "*",
        "access-control-allow-methods:", "PUT, GET, HEAD, OPTIONS",
        "access-control-allow-headers:", "Content-Type, Authorization",
        "access-control-max-age:", "86400",
        NULL,
    };
    return http_respond(wsi, 200, "text/plain", h, "", 0);
}

static void req_unref(struct upload_req *r)
{
    if (--r->refs > 0)
        return;
    if (r->get)
        upload_get_close(r->get);
    if (r->fd >= 0)
        close(r->fd);
    free(r);
}

static struct upload_req *req_new(struct lws *wsi)
{
    struct upload_req *r = calloc(1, sizeof *r);
    ALDIS_ASSERT(r != NULL);
    r->wsi = wsi;
    r->refs = 1;
    r->fd = -1;
    return r;
}

/* "SLOT/name" and the query of a request under UPLOAD_PATH_PREFIX. */
static void request_target(struct lws *wsi, const char *path, const char **rest, char *query,
                           size_t qsize)
{
    *rest = path + strlen(UPLOAD_PATH_PREFIX);
    /* lws keeps each "name=value" of the query as a fragment (decoded);
     * the module wants them joined as in the URL */
    size_t o = 0;
    query[0] = '\0';
    for (int i = 0; i < 16; i++) {
        char frag[256];
        int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n <= 0)
            break;
        if (o + (size_t)n + 2 > qsize) {
            query[0] = '\0'; /* too long to be ours: the module refuses it */
            return;
        }
        if (o)
            query[o++] = '&';
        memcpy(query + o, frag, (size_t)n);
        o += (size_t)n;
        query[o] = '\0';
    }
}

/* ---- PUT ---- */

static void put_done(void *ud, int status, const char *why)
{
    struct upload_req *r = ud;
    r->put = NULL;
    r->status = status;
    snprintf(r->why, sizeof r->why, "%s", why ? why : "");
    r->answered = true;
    if (r->wsi)
        lws_callback_on_writable(r->wsi);
    req_unref(r);
}

static int put_begin(struct lws *wsi, struct http_pss *pss, const char *path)
{
    char query[512], cl[32] = "", ctype[256] = "";
    const char *rest;
    request_target(wsi, path, &rest, query, sizeof query);
    /* refusals close the connection: the body that follows is unread */
    if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0) {
        upload_error(wsi, 411, "Length Required");
        return -1;
    }
    char *end;
    errno = 0;
    unsigned long long len = strtoull(cl, &end, 10);
    if (errno || *end || cl[0] == '-') {
        upload_error(wsi, 400, "Bad Request: Content-Length");
        return -1;
    }
    lws_hdr_copy(wsi, ctype, sizeof ctype, WSI_TOKEN_HTTP_CONTENT_TYPE);
    struct upload_req *r = req_new(wsi);
    int status = 0;
    pss->route_state = r;
    http_rx_allow(wsi);
    if (upload_put_begin(rest, query, len, ctype[0] ? ctype : NULL, &r->put, &status, r->why,
                         sizeof r->why) < 0 || !r->put) {
        r->put = NULL;
        r->failed = true;
        r->status = status ? status : 400;
        if (len == 0)
            return upload_error(wsi, r->status, r->why[0] ? r->why : "Bad Request");
        /* answer now (the client may stop sending), then read and drop
         * what body still comes and close: closing with unread input would
         * reset the connection and could lose the answer */
        r->answered_early = true;
        if (http_error_early(wsi, r->status, r->why[0] ? r->why : "Bad Request") < 0 ||
            len > UPLOAD_DISCARD_MAX)
            return -1;
        return 0;
    }
    if (len == 0) {
        /* no body callbacks will come */
        r->refs++;
        upload_put_finish(r->put, put_done, r);
    }
    return 0;
}

int http_upload_body(struct lws *wsi, struct http_pss *pss, const void *data, size_t len)
{
    struct upload_req *r = pss->route_state;
    if (!r || !r->put || r->failed)
        return 0;
    int status = 0;
    if (upload_put_write(r->put, data, len, &status, r->why, sizeof r->why) < 0 || status) {
        upload_put_abort(r->put);
        r->put = NULL;
        r->failed = true;
        r->status = status ? status : 500;
    }
    return 0;
}

int http_upload_body_done(struct lws *wsi, struct http_pss *pss)
{
    struct upload_req *r = pss->route_state;
    if (!r)
        return -1;
    if (r->answered_early)
        return -1; /* the body is drained: close as announced */
    if (r->failed)
        return upload_error(wsi, r->status, r->why[0] ? r->why : "Upload failed");
    if (!r->put)
        return 0; /* finished already (empty body) */
    r->refs++;
    upload_put_finish(r->put, put_done, r);
    return 0;
}

/* ---- GET / HEAD ---- */

/* RFC 6266 / RFC 8187: filename*=UTF-8''percent-encoded, so no byte of the
 * name can end the header or the parameter. */
static void disposition(const char *ctype, const char *name, char *out, size_t size)
{
    bool inline_ok = strncmp(ctype, "image/", 6) == 0 || strncmp(ctype, "audio/", 6) == 0 ||
                     strncmp(ctype, "video/", 6) == 0;
    int n = snprintf(out, size, "%s; filename*=UTF-8''", inline_ok ? "inline" : "attachment");
    size_t o = n > 0 ? (size_t)n : 0;
    for (const unsigned char *p = (const unsigned char *)(name ? name : "file"); *p; p++) {
        if (o + 4 >= size)
            break;
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("!#$&+-.^_`|~", *p))
            out[o++] = (char)*p;
        else
            o += (size_t)snprintf(out + o, size - o, "%%%02X", *p);
    }
    out[o] = '\0';
}

static void get_opened(void *ud, int status, const char *why, struct upload_get *g,
                       const struct upload_file_info *info)
{
    struct upload_req *r = ud;
    r->answered = true;
    r->status = status;
    snprintf(r->why, sizeof r->why, "%s", why ? why : "");
    if (g && r->wsi) {
        r->get = g;
        r->fd = info->fd;
        r->size = info->size;
        snprintf(r->ctype, sizeof r->ctype, "%s",
                 info->content_type && *info->content_type ? info->content_type
                                                           : "application/octet-stream");
        disposition(r->ctype, info->filename, r->disposition, sizeof r->disposition);
        time_t t = (time_t)info->created;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(r->last_modified, sizeof r->last_modified, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        r->restricted = info->restricted;
        r->off = 0;
        r->end = r->size;
        int pr = r->range[0] ? http_range_parse(r->range, r->size, &r->off, &r->end) : 0;
        if (pr < 0) {
            r->status = 416;
        } else if (pr > 0) {
            r->status = 206;
        }
    } else if (g) {
        if (info->fd >= 0)
            close(info->fd);
        upload_get_close(g); /* the client went away meanwhile */
    }
    if (r->wsi)
        lws_callback_on_writable(r->wsi);
    req_unref(r);
}

static int get_begin(struct lws *wsi, struct http_pss *pss, const char *path, bool head)
{
    char query[512];
    const char *rest;
    request_target(wsi, path, &rest, query, sizeof query);
    struct upload_req *r = req_new(wsi);
    r->head = head;
    if (lws_hdr_copy(wsi, r->range, sizeof r->range, WSI_TOKEN_HTTP_RANGE) < 0)
        r->range[0] = '\0';
    pss->route_state = r;
    r->refs++;
    char auth[UPLOAD_AUTH_MAX];
    if (lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION) < 0)
        auth[0] = '\0';
    upload_get_open(rest, auth[0] ? auth : NULL, get_opened, r);
    return 0;
}

/* Headers of a download (200, 206, 416). */
static int get_headers(struct lws *wsi, struct upload_req *r)
{
    unsigned char buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf;
    uint64_t len = r->status == 416 ? 0 : r->end - r->off;
    char cr[96];
    if (r->status == 416)
        snprintf(cr, sizeof cr, "bytes */%" PRIu64, r->size);
    else
        snprintf(cr, sizeof cr, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, r->off,
                 r->end ? r->end - 1 : 0, r->size);
    const char *const h[] = {
        "accept-ranges:", "bytes",
        "access-control-allow-origin:", "*",
        "content-disposition:", r->disposition,
        "last-modified:", r->last_modified,
        /* an uploaded HTML or SVG file must not run as this origin's page */
        "content-security-policy:", "default-src 'none'; sandbox",
        "x-content-type-options:", "nosniff",
        "cache-control:", r->restricted ? "private, no-store" : "private, max-age=86400",
        "vary:", "Authorization",
        r->status == 200 ? NULL : "content-range:", cr,
        NULL,
    };
    if (lws_add_http_common_headers(wsi, (unsigned)r->status,
                                    r->status == 416 ? "text/plain" : r->ctype, len, &p, end))
        return -1;
    for (size_t i = 0; h[i]; i += 2)
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)h[i],
                                        (const unsigned char *)h[i + 1], (int)strlen(h[i + 1]),
                                        &p, end))
            return -1;
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    r->headers_sent = true;
    return 0;
}

int http_upload_writeable(struct lws *wsi, struct http_pss *pss)
{
    struct upload_req *r = pss->route_state;
    if (!r || !r->answered)
        return 0;
    if (!r->get) {
        /* a PUT's answer, or a GET the module refused */
        if (r->status == 201 || r->status == 200) {
            metrics_http_request(r->status);
            return http_respond(wsi, r->status, "text/plain; charset=utf-8", cors_headers, "Created\n", 8);
        }
        return upload_error(wsi, r->status ? r->status : 500, r->why[0] ? r->why : "Error");
    }
    if (!r->headers_sent) {
        metrics_http_request(r->status);
        if (get_headers(wsi, r) < 0)
            return -1;
        if (r->head || r->status == 416 || r->off == r->end)
            return lws_http_transaction_completed(wsi) ? -1 : 0;
        lws_callback_on_writable(wsi);
        return 0;
    }
    unsigned char *buf = malloc(LWS_PRE + UPLOAD_CHUNK);
    ALDIS_ASSERT(buf != NULL);
    size_t want = r->end - r->off < UPLOAD_CHUNK ? (size_t)(r->end - r->off) : UPLOAD_CHUNK;
    ssize_t n = pread(r->fd, buf + LWS_PRE, want, (off_t)r->off);
    if (n <= 0) {
        free(buf);
        log_warn("http", "upload download: read failed: %s", n < 0 ? strerror(errno) : "short file");
        return -1;
    }
    r->off += (uint64_t)n;
    bool last = r->off >= r->end;
    int w = lws_write(wsi, buf + LWS_PRE, (size_t)n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
    free(buf);
    if (w < 0)
        return -1;
    if (last)
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    lws_callback_on_writable(wsi);
    return 0;
}

int http_upload_begin(struct lws *wsi, struct http_pss *pss, const char *path)
{
    switch (pss->method) {
    case HTTP_PUT:
        return put_begin(wsi, pss, path);
    case HTTP_GET:
    case HTTP_HEAD:
        return get_begin(wsi, pss, path, pss->method == HTTP_HEAD);
    case HTTP_OPTIONS:
        return upload_preflight(wsi);
    default:
        return upload_error(wsi, 405, "Method Not Allowed");
    }
}

void http_upload_closed(struct http_pss *pss)
{
    struct upload_req *r = pss->route_state;
    if (!r)
        return;
    pss->route_state = NULL;
    r->wsi = NULL;
    if (r->put && !r->answered && r->refs == 1) {
        /* the body never completed: drop the partial file */
        upload_put_abort(r->put);
        r->put = NULL;
    }
    req_unref(r);
}
