/* blocking.h - what mod_blocking offers other modules (owner worker only).
 * mod_presence calls blocking_is_blocked() before broadcasting to a contact:
 * XEP-0191 §5.3 forbids routing any outbound stanza to a blocked JID, and a
 * broadcast never passes through the per-stanza checks. */
#ifndef ALDIS_MOD_BLOCKING_H
#define ALDIS_MOD_BLOCKING_H
#include <stdbool.h>

#include "aldis/module.h"

/* Does acct's block list match `jid` (any JID form, XEP-0191 §4 rules)?
 * False when the blocking module is not enabled or jid is invalid. */
bool blocking_is_blocked(struct account *acct, const char *jid);

#endif
