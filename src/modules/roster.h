/* roster.h - what mod_roster offers other modules (owner worker only).
 * The roster is loaded with the account (module account_load) and kept in
 * memory; writes go through to the store. */
#ifndef ALDIS_MOD_ROSTER_H
#define ALDIS_MOD_ROSTER_H
#include <stdbool.h>

#include "aldis/module.h"
#include "aldis/store.h"
#include "modules/roster_state.h"

/* The roster item for contact_bare, or NULL (also when the roster module is
 * not enabled on the account's host). Borrowed; valid until the roster
 * changes. */
const struct roster_item *roster_find(struct account *acct, const char *contact_bare);
/* contact_bare may see this account's presence (subscription from/both). */
bool roster_has_from(struct account *acct, const char *contact_bare);
/* this account receives contact_bare's presence (subscription to/both). */
bool roster_has_to(struct account *acct, const char *contact_bare);
/* Call fn for each roster item. */
void roster_foreach(struct account *acct,
                    void (*fn)(const struct roster_item *item, void *ud), void *ud);

/* ---- for mod_presence (added by the roster helper) -------------------- */

/* Apply a subscription stanza to the contact's item (RFC 6121 §3): runs the
 * Appendix A state machine (roster_state.h), creates, updates or forgets the
 * item, writes it through to the store and pushes it to the interested
 * resources when its visible part changed. For an inbound subscribe that
 * becomes pending, `st` is kept (serialised) for redelivery at each login
 * until answered (§3.1.3). Returns the ROSTER_ACT_* bits the caller must
 * still act on (route, deliver, auto-reply, presence); 0 when the roster
 * module is not enabled on the account's host or the roster is full. */
unsigned roster_subscription_apply(struct account *acct, const char *contact_bare,
                                   enum roster_event ev, const struct stanza *st);
/* Call fn for each contact with a pending inbound subscription request,
 * including contacts not (yet) in the roster, with the request stanza
 * (parsed from the kept copy; borrowed for the call). */
void roster_foreach_pending(struct account *acct,
                            void (*fn)(const char *contact, struct stanza *request, void *ud),
                            void *ud);

#endif
