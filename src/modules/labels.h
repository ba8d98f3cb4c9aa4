/* labels.h - what mod_labels offers other modules: XEP-0258 catalogs for
 * targets other modules serve (the PubSub service's nodes, XEP-0314 §4.1). */
#ifndef ALDIS_MODULES_LABELS_H
#define ALDIS_MODULES_LABELS_H
#include "aldis/xml.h"

/* Answer `iq` (a catalog get) with the catalog for `target` (a bare JID or
 * domain whose stored clearance bounds it) as seen by `requester`, both
 * prepared; the answer's <catalog/> carries `to_attr` and `node` when
 * given (else the target). Asynchronous (the clearances are read from the
 * store); the calling worker gets the reply routed. */
void labels_catalog_request(struct stanza *iq, const char *target, const char *requester,
                            const char *to_attr, const char *node);

#endif
