/* modules.h - the module registry (core side): startup, hook dispatch, IQ
 * handler lookup, hosts. Tables are built once at startup and read-only
 * afterwards, so every worker reads them without locks. */
#ifndef ALDIS_CORE_MODULES_H
#define ALDIS_CORE_MODULES_H
#include "aldis/module.h"

extern struct module *const modules_builtin[];

/* Index modules, build hosts from the config, run every module's init and
 * check module options. Returns 0 or ALDIS_ECONFIG with a message. */
int modules_start(const struct config *cfg, char *err, size_t errlen);
void modules_stop(void);
/* Every module's worker_stopping, on the calling worker; true when one of
 * them routed something. */
bool modules_worker_stopping(void);
size_t modules_count(void);
struct module *module_at(size_t i);
struct module *module_find(const char *name);

/* The first handler for an IQ payload, or NULL. */
const struct iq_handler *iq_handler_find(const struct host *h, enum iq_target target,
                                         enum iq_kind kind, const struct xml_node *payload);

/* Does any module hook this event? */
bool hooks_any(enum hook_event event);

size_t hosts_count(void);
struct host *host_at(size_t i);

#endif
