/* account.h - core side of per-bare-JID state on its owner worker. */
#ifndef ALDIS_CORE_ACCOUNT_H
#define ALDIS_CORE_ACCOUNT_H
#include <uv.h>

#include "aldis/module.h"

/* Run fn(acct, arg) on the current worker (which must be the owner of
 * `bare`) once the account is loaded. */
void account_with(struct host *h, const char *bare,
                  void (*fn)(struct account *acct, void *arg), void *arg);
/* Remove and free a resource (runs HOOK_RESOURCE_UNBOUND first). */
void account_resource_remove(struct account *acct, struct resource *res);
struct resource *account_resource_add(struct account *acct, const char *name, int worker,
                                      uint64_t session_id);
/* Start the idle-account sweep timer on the current worker. */
void accounts_init_worker(uv_loop_t *loop);
/* Free every account of the current worker (shutdown). */
void accounts_free_worker(void);

#endif
