/* message.h - what mod_message offers other modules (owner worker only).
 * mod_carbons (XEP-0280 §7) copies a received message to the resources
 * that did not get it, so it must know which ones the RFC 6121 §8.5.2.1.1
 * bare-JID rules chose; this keeps that rule in one place. */
#ifndef ALDIS_MOD_MESSAGE_H
#define ALDIS_MOD_MESSAGE_H
#include <stdbool.h>

#include "aldis/module.h"
#include "aldis/xml.h"

/* Does resource r get message st when st is delivered to acct's bare JID
 * (the same rule mod_message applies)? False for every resource when none
 * is available with a non-negative priority, and for groupchat and error. */
bool message_bare_recipient(const struct account *acct, const struct resource *r,
                            const struct stanza *st);

#endif
