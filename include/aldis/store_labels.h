/* store_labels.h - asynchronous storage of clearances (security labels,
 * docs/security-labels.md): subject (a bare JID, a room JID or a domain) ->
 * clearance text as clearance_format writes it. Same rules as store.h: calls
 * are made on a worker, run in FIFO order on the store thread, and the
 * callback (may be NULL) runs once on the calling worker. Everything given
 * is copied; result memory lives only during the callback. */
#ifndef ALDIS_STORE_LABELS_H
#define ALDIS_STORE_LABELS_H
#include "aldis/store.h"

/* clearance is NULL with err ALDIS_ENOTFOUND when none is set. */
typedef void (*store_labels_get_cb)(void *ud, int err, const char *clearance);

void store_labels_get(const char *subject, store_labels_get_cb cb, void *ud);
void store_labels_put(const char *subject, const char *clearance, store_done_cb cb, void *ud);
/* ALDIS_ENOTFOUND when none was set. */
void store_labels_del(const char *subject, store_done_cb cb, void *ud);

#endif
