/* store_upload.h - asynchronous storage of XEP-0363 upload slots and files.
 *
 * One row per slot handed out: who asked (owner bare JID), the sanitised
 * filename, the announced size and content type, when it was made, until
 * when its PUT URL is valid, whether the file has arrived (completed), and
 * the security label protecting it (NULL: unlabelled; filled by the labels
 * work). The bytes themselves live on disk, named by the slot id; only
 * mod_upload touches them.
 *
 * Same rules as store.h: calls are made on a worker, run in FIFO order on
 * the store thread, and the callback (may be NULL) runs once on the calling
 * worker. Everything given is copied; result memory lives only during the
 * callback. Times are unix seconds. */
#ifndef ALDIS_STORE_UPLOAD_H
#define ALDIS_STORE_UPLOAD_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aldis/store.h"

#define UPLOAD_ID_LEN 32 /* slot ids: 16 random bytes in lowercase hex */

struct upload_rec {
    char *id;
    char *owner;        /* bare JID of the requester */
    char *filename;     /* sanitised, UTF-8, no '/' */
    char *content_type; /* lowercased */
    uint64_t size;
    int64_t created;
    int64_t expires;    /* PUT allowed until then */
    bool completed;     /* the file is on disk */
    char *label;        /* serialised security label, or NULL */
};

/* What counts against an owner's quota: completed files and slots still
 * valid. With the earliest time something of it goes away by itself
 * (0 = nothing will): the soonest expiry of an unused slot, and the
 * creation time of the oldest completed file (retention is the caller's). */
struct upload_usage {
    uint64_t used;
    int64_t next_expiry;
    int64_t oldest_created;
};

typedef void (*store_upload_add_cb)(void *ud, int err, const struct upload_usage *usage);
typedef void (*store_upload_get_cb)(void *ud, int err, const struct upload_rec *rec);
typedef void (*store_upload_sweep_cb)(void *ud, int err, char *const *ids, size_t n);

/* Record a new slot unless the owner's usage (at rec->created) plus
 * rec->size would exceed `quota` (0: no quota): then ALDIS_ELIMIT, nothing
 * written. Both cases report the usage before the slot. ALDIS_EEXIST when
 * the id is taken. */
void store_upload_add(const struct upload_rec *rec, uint64_t quota, store_upload_add_cb cb,
                      void *ud);
/* The slot's row; ALDIS_ENOTFOUND when there is none. */
void store_upload_get(const char *id, store_upload_get_cb cb, void *ud);
/* Mark the file arrived, once: ALDIS_ENOTFOUND when the slot is gone,
 * ALDIS_EEXIST when it was already completed (XEP-0363 slots are single use). */
void store_upload_complete(const char *id, store_done_cb cb, void *ud);
/* Forget a slot (its file, if any, is the caller's). */
void store_upload_del(const char *id, store_done_cb cb, void *ud);
/* Retention and cleanup, up to `limit` rows: delete completed files made
 * before `files_before` (0: keep them all), unused slots that expired before
 * `slots_before`, and the files of deleted accounts; the callback gets the
 * ids whose files should now be removed from disk. */
void store_upload_sweep(int64_t files_before, int64_t slots_before, size_t limit,
                        store_upload_sweep_cb cb, void *ud);

#endif
