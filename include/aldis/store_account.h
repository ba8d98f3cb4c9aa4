/* store_account.h - asynchronous account changes for the running server
 * (XEP-0077 in-band registration, password change, account removal).
 * Same rules as store.h: the callback runs once on the calling worker. */
#ifndef ALDIS_STORE_ACCOUNT_H
#define ALDIS_STORE_ACCOUNT_H
#include "aldis/store.h"

/* err = ALDIS_EEXIST when the account exists already. */
void store_user_create(const char *host, const char *user, const struct scram_keys *keys,
                       store_done_cb cb, void *ud);
/* err = ALDIS_ENOTFOUND when the account does not exist. */
void store_user_set_keys(const char *host, const char *user, const struct scram_keys *keys,
                         store_done_cb cb, void *ud);
/* Deletes the account and all its data (roster, archive, offline, PEP...). */
void store_user_delete(const char *host, const char *user, store_done_cb cb, void *ud);

#endif
