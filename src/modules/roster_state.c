/* roster_state.c - the RFC 6121 Appendix A subscription state tables as one
 * pure function. Each branch names the rows of the table it implements; the
 * unit test (tests/unit/test_roster_state.c) checks every row. */
#include <string.h>

#include "modules/roster_state.h"

static bool has_to(enum roster_sub s) { return s == SUB_TO || s == SUB_BOTH; }
static bool has_from(enum roster_sub s) { return s == SUB_FROM || s == SUB_BOTH; }

static enum roster_sub sub_make(bool to, bool from)
{
    return (enum roster_sub)((to ? SUB_TO : 0) | (from ? SUB_FROM : 0));
}

unsigned roster_state_apply(const struct roster_state *cur, enum roster_event ev,
                            struct roster_state *next)
{
    const struct roster_state old = *cur;
    bool to = has_to(old.sub), from = has_from(old.sub);
    bool ask = old.ask, pending_in = old.pending_in, approved = old.approved;
    unsigned act = 0;

    switch (ev) {
    case ROSTER_OUT_SUBSCRIBE:
        /* A.2.1: always routed (the contact's server may have lost state
         * and will auto-reply); "None", "None + Pending In" and "From" gain
         * Pending Out. A user already subscribed does not ask again. */
        act |= ROSTER_ACT_ROUTE;
        if (!to)
            ask = true;
        break;
    case ROSTER_OUT_UNSUBSCRIBE:
        /* A.2.2: always routed; the subscription to the contact and any
         * pending request for it end. */
        act |= ROSTER_ACT_ROUTE;
        to = false;
        ask = false;
        break;
    case ROSTER_OUT_SUBSCRIBED:
        if (from) {
            /* A.2.3 "From", "From + Pending Out", "Both": nothing to do. */
        } else if (pending_in) {
            /* A.2.3 "None + Pending In" -> "From", "None + Pending Out+In"
             * -> "From + Pending Out", "To + Pending In" -> "Both". */
            from = true;
            pending_in = false;
            approved = false;
            act |= ROSTER_ACT_ROUTE | ROSTER_ACT_SEND_PRESENCE;
        } else {
            /* A.2.3 "None", "None + Pending Out", "To": no request to
             * approve, so this is a pre-approval (§3.4.2): noted, pushed,
             * never routed. */
            approved = true;
        }
        break;
    case ROSTER_OUT_UNSUBSCRIBED:
        if (from) {
            /* A.2.4 "From" -> "None", "From + Pending Out" -> "None +
             * Pending Out", "Both" -> "To": cancel the contact's
             * subscription; it gets unavailable presence first (§3.2.2). */
            from = false;
            pending_in = false;
            approved = false;
            act |= ROSTER_ACT_ROUTE | ROSTER_ACT_SEND_UNAVAILABLE;
        } else if (pending_in) {
            /* A.2.4 "None + Pending In" -> "None", "None + Pending Out+In"
             * -> "None + Pending Out", "To + Pending In" -> "To": deny. */
            pending_in = false;
            approved = false;
            act |= ROSTER_ACT_ROUTE;
        } else {
            /* A.2.4 "None", "None + Pending Out", "To": not routed; it
             * cancels a pre-approval if there is one (§3.4.2). */
            approved = false;
        }
        break;
    case ROSTER_IN_SUBSCRIBE:
        if (from) {
            /* A.3.1 "From", "From + Pending Out", "Both": already
             * subscribed; auto-reply subscribed (§3.1.3). */
            pending_in = false;
            act |= ROSTER_ACT_AUTO_SUBSCRIBED | ROSTER_ACT_SEND_PRESENCE;
        } else if (approved) {
            /* §3.4.2: pre-approved: "None" -> "From", "None + Pending
             * Out" -> "From + Pending Out", "To" -> "Both", answered on the
             * user's behalf and not delivered. */
            from = true;
            approved = false;
            pending_in = false;
            act |= ROSTER_ACT_AUTO_SUBSCRIBED | ROSTER_ACT_SEND_PRESENCE;
        } else if (pending_in) {
            /* A.3.1 "... + Pending In": already pending, not delivered
             * again now (it is redelivered at each login until answered). */
        } else {
            /* A.3.1 "None" -> "None + Pending In", "None + Pending Out" ->
             * "None + Pending Out+In", "To" -> "To + Pending In". */
            pending_in = true;
            act |= ROSTER_ACT_DELIVER;
        }
        break;
    case ROSTER_IN_UNSUBSCRIBE:
        if (from) {
            /* A.3.2 "From" -> "None", "From + Pending Out" -> "None +
             * Pending Out", "Both" -> "To"; the contact gets unavailable
             * presence from the user's resources (§3.3.3). */
            from = false;
            pending_in = false;
            act |= ROSTER_ACT_DELIVER | ROSTER_ACT_SEND_UNAVAILABLE;
        } else if (pending_in) {
            /* A.3.2 "None + Pending In" -> "None", "None + Pending Out+In"
             * -> "None + Pending Out", "To + Pending In" -> "To": the
             * contact withdrew its request. */
            pending_in = false;
            act |= ROSTER_ACT_DELIVER;
        }
        /* A.3.2 "None", "None + Pending Out", "To": ignored. */
        break;
    case ROSTER_IN_SUBSCRIBED:
        if (ask && !to) {
            /* A.3.3 "None + Pending Out" -> "To", "None + Pending Out+In"
             * -> "To + Pending In", "From + Pending Out" -> "Both". */
            to = true;
            ask = false;
            act |= ROSTER_ACT_DELIVER;
        }
        /* Every other row: not requested, ignored. */
        break;
    case ROSTER_IN_UNSUBSCRIBED:
        if (to || ask) {
            /* A.3.4 "None + Pending Out" -> "None", "None + Pending
             * Out+In" -> "None + Pending In", "To" -> "None", "To + Pending
             * In" -> "None + Pending In", "From + Pending Out" -> "From",
             * "Both" -> "From". */
            to = false;
            ask = false;
            act |= ROSTER_ACT_DELIVER;
        }
        /* A.3.4 "None", "None + Pending In", "From": ignored. */
        break;
    default:
        break;
    }

    struct roster_state n = {
        .sub = sub_make(to, from),
        .ask = ask,
        .pending_in = pending_in,
        .approved = approved,
    };
    if (n.sub != old.sub || n.ask != old.ask || n.approved != old.approved)
        act |= ROSTER_ACT_PUSH | ROSTER_ACT_CHANGED;
    if (n.pending_in != old.pending_in)
        act |= ROSTER_ACT_CHANGED;
    *next = n;
    return act;
}

const char *roster_sub_name(enum roster_sub sub)
{
    switch (sub) {
    case SUB_TO: return "to";
    case SUB_FROM: return "from";
    case SUB_BOTH: return "both";
    default: return "none";
    }
}

int roster_event_from_type(const char *type, bool outbound)
{
    static const char *const names[] = {"subscribe", "unsubscribe", "subscribed",
                                        "unsubscribed"};
    if (!type)
        return -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(type, names[i]) == 0)
            return outbound ? i : i + ROSTER_IN_SUBSCRIBE;
    return -1;
}
