/* upload.h - the XEP-0363 file store, as the HTTP server sees it.
 *
 * The upload module (src/modules/mod_upload.c) hands out slots over XMPP and
 * owns the files and their metadata; the HTTP server (src/http/) only moves
 * bytes. Both run on the same worker thread for one request: every callback
 * here is called on the worker that made the call, from its event loop.
 *
 * Paths are the part of the URL after the upload prefix, e.g. for
 * "https://upload.example.org:5281/upload/SLOT/photo.jpg?v=SIG&e=EXPIRY"
 * the HTTP server passes path "SLOT/photo.jpg" and query "v=SIG&e=EXPIRY".
 * Statuses are HTTP status codes (201, 200, 206, 400, 401, 403, 404, 409, 413,
 * 416, 500, 503) with a short plain-text reason in `why`. */
#ifndef ALDIS_UPLOAD_H
#define ALDIS_UPLOAD_H
#include <stddef.h>
#include <stdint.h>

#define UPLOAD_PATH_PREFIX "/upload/"

struct upload_put;
struct upload_get;

/* The URL prefix (scheme://host:port) PUT/GET URLs use, set by the HTTP
 * server when it starts its listeners: the https listener if enabled,
 * otherwise http. The upload module builds slot URLs from it. */
void upload_set_base_url(const char *base_url);
const char *upload_base_url(void);

/* ---- PUT ---------------------------------------------------------------- */

/* A PUT arrived with its headers: check the signature and expiry in the
 * query, that the slot exists and is unused, and that Content-Length and
 * Content-Type match the slot. On success *out is the upload in progress
 * (bytes go to a temporary file under the instance directory). */
int upload_put_begin(const char *path, const char *query, uint64_t content_length,
                     const char *content_type, struct upload_put **out, int *status,
                     char *why, size_t whylen);
/* Body bytes, in order. Non-zero status = stop and answer it (e.g. more
 * bytes than announced: 413). */
int upload_put_write(struct upload_put *u, const void *data, size_t len, int *status,
                     char *why, size_t whylen);
/* All bytes are in: move the file into place and record it. `done` is
 * called once, later, with 201 or an error status; `u` is freed by then. */
typedef void (*upload_status_cb)(void *ud, int status, const char *why);
void upload_put_finish(struct upload_put *u, upload_status_cb done, void *ud);
/* The client went away or the request failed: drop the partial file. */
void upload_put_abort(struct upload_put *u);

/* ---- GET / HEAD --------------------------------------------------------- */

/* Who is asking: the request's Authorization header, "Bearer TOKEN" with
 * a download token the upload service hands its users over XMPP
 * (urn:aldis:upload:auth:0), or NULL. Labelled files are only served to a
 * requester whose clearance permits the label: 401 without a valid token,
 * 403 with the token of someone not cleared. */
struct upload_file_info {
    int fd;                   /* open for reading; the caller closes it */
    uint64_t size;
    const char *content_type; /* valid until upload_get_close */
    const char *filename;
    int64_t created;          /* unix seconds, for Last-Modified */
    int restricted;           /* labelled: no shared caching */
};
typedef void (*upload_open_cb)(void *ud, int status, const char *why,
                               struct upload_get *g, const struct upload_file_info *info);
/* Look the file up (asynchronously: metadata lives in the store) and open
 * it. `cb` gets 200 with `g`/`info`, or an error status with g == NULL. */
void upload_get_open(const char *path, const char *authorization, upload_open_cb cb, void *ud);
void upload_get_close(struct upload_get *g);

#endif
