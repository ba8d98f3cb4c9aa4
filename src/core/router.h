/* router.h - core routing entry points beyond router_route (module.h). */
#ifndef ALDIS_CORE_ROUTER_H
#define ALDIS_CORE_ROUTER_H
#include "aldis/jid.h"
#include "aldis/xml.h"

/* Route to an already-parsed destination (takes the reference). */
void router_route_to(struct stanza *st, const struct jid *to);
/* Send an error reply for st (unless st is itself an error or a result). */
void router_bounce(struct stanza *st, const char *type, const char *condition, const char *text);

#endif
