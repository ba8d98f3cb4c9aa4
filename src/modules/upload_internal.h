/* upload_internal.h - what the XEP-0363 upload files share: the module's
 * options (read-only once mod_upload's init has run), and the pure helpers
 * of upload_util.c (signing, names, URLs) that the unit tests check. */
#ifndef ALDIS_MODULES_UPLOAD_INTERNAL_H
#define ALDIS_MODULES_UPLOAD_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aldis/store_upload.h"

#define NS_HTTP_UPLOAD "urn:xmpp:http:upload:0"

#define UPLOAD_FILENAME_MAX 255  /* bytes of a sanitised filename */
#define UPLOAD_CTYPE_MAX 127     /* bytes of a content type */
#define UPLOAD_SIG_HEX 64        /* HMAC-SHA256 in hex */
#define UPLOAD_SECRET_MAX 64     /* bytes of HMAC key */
#define UPLOAD_QUERY_MAX 512     /* bytes of a PUT URL's query we look at */
#define UPLOAD_DEFAULT_CTYPE "application/octet-stream"

struct upload_options {
    bool ready;              /* init ran: the HTTP side may serve */
    uint64_t max_file_size;  /* bytes */
    uint64_t quota;          /* bytes per user, 0 = none */
    int64_t slot_lifetime;   /* seconds a PUT URL stays valid */
    int64_t retention_days;  /* 0 = keep files */
    int64_t sweep_interval;  /* seconds between retention sweeps */
    int64_t token_lifetime;  /* seconds a download token stays valid */
    char *dir;               /* absolute: files/, tmp/, secret under it */
    unsigned char secret[UPLOAD_SECRET_MAX];
    size_t secret_len;
};
extern struct upload_options upload_opts;

/* The HMAC-SHA256 (key `key`) of a slot's id, filename, size, content type
 * and expiry, each length-prefixed so no two field lists sign alike; `out`
 * gets it in lowercase hex. Returns 0 or ALDIS_EINVAL. */
int upload__sign(const unsigned char *key, size_t keylen, const char *id, const char *filename,
                 uint64_t size, const char *content_type, int64_t expiry,
                 char out[UPLOAD_SIG_HEX + 1]);
/* Constant-time equality of two signatures in hex (false unless both are
 * UPLOAD_SIG_HEX long). */
bool upload__sig_equal(const char *a, const char *b);

/* Download tokens (Authorization: Bearer, for labelled files): made for an
 * authenticated bare JID over XMPP, checked by the HTTP side.
 * upload__token_check gives the JID, or ALDIS_EINVAL (malformed),
 * ALDIS_EAUTH (bad signature), ALDIS_EEXPIRED. */
#define UPLOAD_TOKEN_JID_MAX 767 /* a bare JID's longest form (RFC 7622) */
#define UPLOAD_TOKEN_MAX (2 + 20 + 1 + UPLOAD_SIG_HEX + 1 + UPLOAD_TOKEN_JID_MAX + 1)
int upload__token_make(const unsigned char *key, size_t keylen, const char *bare, int64_t expiry,
                       char *out, size_t outlen);
int upload__token_check(const unsigned char *key, size_t keylen, const char *token, int64_t now,
                        char *bare, size_t barelen);

/* A new slot id (UPLOAD_ID_LEN lowercase hex from the CSPRNG). */
int upload__id_new(char out[UPLOAD_ID_LEN + 1]);
bool upload__id_valid(const char *id, size_t len);

/* The filename a slot is made with: valid UTF-8, 1..UPLOAD_FILENAME_MAX
 * bytes, no control character, no '/' or '\', not "." or ".." (else
 * ALDIS_EINVAL: XEP-0363 not-acceptable); characters that mean something
 * to shells, URLs or file managers ('%', '"', '<', '>', '|', '*', ':', '?',
 * '#', '`', a leading '.', bidirectional overrides) become '_'. */
int upload__filename_clean(const char *in, char *out, size_t outlen);
/* A content type as given in a slot request or a Content-Type header:
 * lowercased, outer spaces trimmed, "type/subtype" of token characters with
 * optional "; name=value" parameters; NULL or empty gives
 * UPLOAD_DEFAULT_CTYPE. ALDIS_EINVAL for anything else (it is echoed in
 * GET responses: no CR, LF or other control character can pass). */
int upload__ctype_clean(const char *in, char *out, size_t outlen);

/* Percent-encode everything but RFC 3986 unreserved characters.
 * ALDIS_ELIMIT when outlen is too small. */
int upload__url_encode(const char *in, char *out, size_t outlen);
/* Decode %XX escapes of in[0..len); a bad escape or a NUL byte is
 * ALDIS_EINVAL. */
int upload__url_decode(const char *in, size_t len, char *out, size_t outlen);

/* "SLOT/FILENAME" (after the /upload/ prefix), the name percent-decoded.
 * Sanitised names never contain '%', so a name the HTTP server already
 * decoded decodes to itself. ALDIS_EINVAL for anything else. */
struct upload_path {
    char id[UPLOAD_ID_LEN + 1];
    char name[UPLOAD_FILENAME_MAX + 1];
};
int upload__path_parse(const char *path, struct upload_path *out);

/* The PUT URL's query "v=SIG&e=EXPIRY&s=SIZE" (any order, '&' or ','
 * between parameters; other keys ignored). ALDIS_EINVAL when one is missing, repeated or malformed. */
struct upload_query {
    char sig[UPLOAD_SIG_HEX + 1];
    int64_t expiry;
    uint64_t size;
};
int upload__query_parse(const char *query, struct upload_query *out);

/* Where a slot's file lives: DIR/files/XY/ID (XY: the id's first two
 * characters, so no directory grows past 256 entries per 65,536 files). */
int upload__file_path(const char *dir, const char *id, char *out, size_t outlen);

/* mod_upload.c: run a retention sweep now (on the calling worker's loop). */
void upload__sweep_start(void);

#endif
