/* roster_state.h - the RFC 6121 subscription state machine (Appendix A), as
 * a pure function: no I/O, no allocation, unit-tested row by row.
 *
 * A contact's state from the user's point of view is the subscription
 * (none/to/from/both) plus three flags: ask ("Pending Out": the user asked,
 * no answer yet), pending_in ("Pending In": the contact asked, the user has
 * not answered) and approved (RFC 6121 §3.4 pre-approval). An event is a
 * subscription stanza, outbound (sent by the user) or inbound (sent by the
 * contact). roster_state_apply() gives the new state and what the server
 * must do about it; the callers (mod_roster, mod_presence) do it. */
#ifndef ALDIS_ROSTER_STATE_H
#define ALDIS_ROSTER_STATE_H
#include <stdbool.h>

#include "aldis/store.h" /* enum roster_sub */

struct roster_state {
    enum roster_sub sub;
    bool ask;        /* Pending Out */
    bool pending_in; /* Pending In */
    bool approved;   /* pre-approved (only meaningful without 'from') */
};

enum roster_event {
    ROSTER_OUT_SUBSCRIBE = 0, /* the user sends subscribe (§3.1.2, A.2.1) */
    ROSTER_OUT_UNSUBSCRIBE,   /* the user sends unsubscribe (§3.3.2, A.2.2) */
    ROSTER_OUT_SUBSCRIBED,    /* the user approves / pre-approves (§3.1.5, §3.4, A.2.3) */
    ROSTER_OUT_UNSUBSCRIBED,  /* the user denies / cancels (§3.2.2, A.2.4) */
    ROSTER_IN_SUBSCRIBE,      /* the contact asks (§3.1.3, A.3.1) */
    ROSTER_IN_UNSUBSCRIBE,    /* the contact unsubscribes (§3.3.3, A.3.2) */
    ROSTER_IN_SUBSCRIBED,     /* the contact approves (§3.1.6, A.3.3) */
    ROSTER_IN_UNSUBSCRIBED,   /* the contact denies / cancels (§3.2.3, A.3.4) */
    ROSTER_EVENT_COUNT
};

/* What to do; a bit set. */
enum roster_action {
    /* Outbound: route the stanza (from = the user's bare JID) to the contact. */
    ROSTER_ACT_ROUTE = 1u << 0,
    /* Inbound: deliver the stanza to the user's available resources (a
     * subscribe is also kept pending until answered, RFC 6121 §3.1.3). */
    ROSTER_ACT_DELIVER = 1u << 1,
    /* The visible part of the item (subscription, ask, approved) changed:
     * send a roster push to the interested resources. */
    ROSTER_ACT_PUSH = 1u << 2,
    /* Inbound subscribe from a contact already subscribed or pre-approved:
     * answer "subscribed" on the user's behalf (RFC 6121 §3.1.3, §3.4). */
    ROSTER_ACT_AUTO_SUBSCRIBED = 1u << 3,
    /* The contact just gained a subscription to the user's presence: send
     * it the current presence of each available resource (§3.1.5). */
    ROSTER_ACT_SEND_PRESENCE = 1u << 4,
    /* The contact just lost its subscription to the user's presence: send
     * it unavailable presence from each available resource (§3.2.2,
     * §3.3.3). Done before the stanza is routed, while the contact's server
     * still accepts it. */
    ROSTER_ACT_SEND_UNAVAILABLE = 1u << 5,
    /* Any part of the state changed (store it). */
    ROSTER_ACT_CHANGED = 1u << 6,
};

/* Apply `ev` to `cur`, writing the new state into *next (which may be
 * cur); returns the ROSTER_ACT_* bits. A contact absent from the roster is
 * the all-zero state ("None"). */
unsigned roster_state_apply(const struct roster_state *cur, enum roster_event ev,
                            struct roster_state *next);

/* "none", "to", "from", "both". */
const char *roster_sub_name(enum roster_sub sub);
/* Map a presence type to an event; -1 when it is not a subscription type. */
int roster_event_from_type(const char *type, bool outbound);

#endif
