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

#endif
