/* store.h - the asynchronous store interface.
 *
 * Calls are made on a worker thread; the request runs on the store thread
 * (one connection, FIFO, so writes from one worker are applied in the order
 * they were made) and the callback runs back on the calling worker. On
 * success or failure the callback runs exactly once (it may be NULL for
 * fire-and-forget writes). Result memory passed to a callback is owned by the
 * store layer and is valid only during the callback.
 *
 * Accounts are keyed by (host, user) where user is the nodeprep'd local part;
 * per-user data is keyed by the bare JID string "user@host". Credentials are
 * stored only as SCRAM keys, never plaintext. */
#ifndef ALDIS_STORE_H
#define ALDIS_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCRAM_SHA1_LEN 20
#define SCRAM_SHA256_LEN 32
#define SCRAM_SALT_LEN 16
#define SCRAM_ITERATIONS_DEFAULT 4096

struct scram_keys {
    unsigned char salt[SCRAM_SALT_LEN];
    unsigned iterations;
    unsigned char stored_key_sha1[SCRAM_SHA1_LEN];
    unsigned char server_key_sha1[SCRAM_SHA1_LEN];
    unsigned char stored_key_sha256[SCRAM_SHA256_LEN];
    unsigned char server_key_sha256[SCRAM_SHA256_LEN];
};

/* Derive both SCRAM key sets from a password (RFC 5802 §3), with a fresh
 * random salt. Returns 0 or ALDIS_EINVAL (password not SASLprep-able). */
int scram_keys_derive(const char *password, unsigned iterations,
                      struct scram_keys *out);
/* Check a plaintext password against stored keys (for SASL PLAIN). */
bool scram_keys_check(const struct scram_keys *k, const char *password);

enum roster_sub { SUB_NONE = 0, SUB_TO = 1, SUB_FROM = 2, SUB_BOTH = 3 };

struct roster_item {
    char *jid;         /* bare JID of the contact */
    char *name;        /* NULL when none */
    enum roster_sub subscription;
    bool ask;          /* pending out: we sent subscribe, no answer yet */
    bool pending_in;   /* pending in: contact asked, we did not answer */
    bool approved;     /* pre-approved (RFC 6121 §3.4) */
    char **groups;     /* ngroups strings */
    size_t ngroups;
    char *pending_stanza; /* serialised inbound subscribe (for redelivery), or NULL */
};

struct offline_msg {
    int64_t id;
    char *xml; /* serialised stanza, delay stamp included */
    size_t len;
};

typedef void (*store_done_cb)(void *ud, int err);
typedef void (*store_creds_cb)(void *ud, int err, const struct scram_keys *k);
typedef void (*store_roster_cb)(void *ud, int err,
                                const struct roster_item *items, size_t n,
                                int64_t version);
typedef void (*store_kv_cb)(void *ud, int err, const char *value, size_t len);
typedef void (*store_offline_cb)(void *ud, int err,
                                 const struct offline_msg *msgs, size_t n);
typedef void (*store_count_cb)(void *ud, int err, int64_t count);

/* Open the configured backend and start the store thread. */
int store_open(const char *backend, const char *path);
/* Flush outstanding requests and stop the store thread. */
void store_close(void);

/* Accounts. err = ALDIS_ENOTFOUND when the user does not exist. */
void store_user_get(const char *host, const char *user, store_creds_cb cb, void *ud);
/* Users: the roster ("roster" is per bare JID). put replaces the item. */
void store_roster_load(const char *bare, store_roster_cb cb, void *ud);
void store_roster_put(const char *bare, const struct roster_item *item, store_done_cb cb, void *ud);
void store_roster_del(const char *bare, const char *contact, store_done_cb cb, void *ud);
/* Per-user key/value blobs (vcard, private XML, block list, last activity). */
void store_kv_get(const char *bare, const char *key, store_kv_cb cb, void *ud);
void store_kv_put(const char *bare, const char *key, const char *value, size_t len, store_done_cb cb, void *ud);
void store_kv_del(const char *bare, const char *key, store_done_cb cb, void *ud);
/* Offline messages (XEP-0160): push fails with ALDIS_ELIMIT over `max`. */
void store_offline_push(const char *bare, const char *xml, size_t len, int64_t max, store_done_cb cb, void *ud);
/* Fetch and delete all offline messages, oldest first. */
void store_offline_pop(const char *bare, store_offline_cb cb, void *ud);

/* ---- message archive (XEP-0313) ---------------------------------------
 *
 * One archive per bare JID ("owner"). Each item has a server-assigned id
 * (unpredictable, unique within the archive, never reused: XEP-0313 §5.2),
 * a timestamp in microseconds since the epoch (UTC), the other party and
 * the direction, and the serialised stanza. The store keeps timestamps
 * strictly increasing in the order items are appended (a later append never
 * gets an earlier or equal stamp, whatever clock the caller read), so the
 * archive order is the append order and timestamps never tie (XEP-0313
 * §3.1). */
#define ARCHIVE_ID_MAX 64         /* longest archive id accepted */
#define ARCHIVE_PAGE_MAX 1000     /* hard cap on items per query */
#define ARCHIVE_IDS_MAX 250       /* most ids in one 'ids' filter */

enum archive_dir { ARCHIVE_IN = 0, ARCHIVE_OUT = 1 };
#define ARCHIVE_FLAG_RETRACTED 1u /* replaced by a tombstone (XEP-0424) */

struct archive_item {
    char *id;        /* archive id (the XEP-0359 stanza-id given out) */
    int64_t ts;      /* µs since the epoch; see above */
    char *with;      /* bare JID of the other party */
    char *peer;      /* that party's JID as addressed (full or bare) */
    enum archive_dir dir;
    char *origin_id; /* XEP-0359 origin-id (else the message id), or NULL */
    unsigned flags;  /* ARCHIVE_FLAG_* */
    char *xml;       /* serialised stanza (NUL-terminated, len bytes) */
    size_t len;
};

/* A query: the filters select a set (ordered oldest first); the paging part
 * (XEP-0059) selects one page of it. Unset strings are NULL. */
struct archive_query {
    const char *owner;
    const char *with;        /* bare JID: items with that party */
    const char *peer;        /* full JID: items with exactly that JID */
    bool has_start, has_end;
    int64_t start, end;      /* inclusive bounds on ts */
    const char *after_id;    /* only items after this one (exclusive) */
    const char *before_id;   /* only items before this one (exclusive) */
    const char *const *ids;  /* only these items (at most ARCHIVE_IDS_MAX) */
    size_t nids;
    const char *origin_id;   /* only items with this origin id */
    int dir;                 /* -1 any, else enum archive_dir */
    /* paging */
    const char *page_after;  /* RSM <after>: items after this one */
    const char *page_before; /* RSM <before>: items before this one */
    bool backward;           /* the page at the end of the set (RSM
                                <before/>, empty or not) */
    int64_t index;           /* RSM <index>: skip this many (forward only);
                                0 = none */
    size_t max;              /* page size (0: count only), capped at
                                ARCHIVE_PAGE_MAX */
    bool want_count;         /* fill count and first_index */
};

struct archive_page {
    struct archive_item *items; /* n items, oldest first */
    size_t n;
    bool complete;       /* nothing more in the paging direction */
    bool stable;         /* results will not change (always, for SQLite) */
    int64_t count;       /* size of the set, or -1 when not asked */
    int64_t first_index; /* position of items[0] in the set, or -1 */
};

typedef void (*store_archive_cb)(void *ud, int err, const struct archive_page *page);

/* Append one item to owner's archive (item->ts is the caller's clock; the
 * store may move it later to keep the order, see above). Consecutive appends
 * are written together in one transaction by the store thread. */
void store_archive_append(const char *owner, const struct archive_item *item,
                          store_done_cb cb, void *ud);
/* Run a query. err = ALDIS_ENOTFOUND when an id named in after_id,
 * before_id, ids, page_after or page_before is not in the archive
 * (XEP-0313 §4.1.3: item-not-found); ALDIS_EINVAL for a malformed query. */
void store_archive_query(const struct archive_query *q, store_archive_cb cb, void *ud);
/* Replace the stanza and flags of one item (a XEP-0424 tombstone); its id,
 * time and party stay. ALDIS_ENOTFOUND when there is no such item. */
void store_archive_update(const char *owner, const char *id, const char *xml,
                          size_t len, unsigned flags, store_done_cb cb, void *ud);
/* Delete owner's whole archive (a destroyed room's); the callback gets how
 * many items went. */
void store_archive_delete(const char *owner, store_count_cb cb, void *ud);
/* Retention: delete up to `limit` of the oldest items (of every archive)
 * stamped before `before`; the callback gets how many went. Deleting only
 * the oldest leaves no holes (XEP-0313 §3.2). */
void store_archive_purge(int64_t before, int64_t limit, store_count_cb cb, void *ud);

#endif
