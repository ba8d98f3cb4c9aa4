/* test_roster_state.c - every row of the RFC 6121 Appendix A tables (A.2.1
 * to A.3.4) and the §3.4 pre-approval rows, against roster_state_apply(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "modules/roster_state.h"

/* The nine defined states of A.1, plus the pre-approved variants. */
enum st {
    N, N_PO, N_PI, N_POI, T, T_PI, F, F_PO, B, N_A, N_PO_A, T_A, ST_COUNT
};

static const struct roster_state states[ST_COUNT] = {
    [N] = {SUB_NONE, false, false, false},
    [N_PO] = {SUB_NONE, true, false, false},
    [N_PI] = {SUB_NONE, false, true, false},
    [N_POI] = {SUB_NONE, true, true, false},
    [T] = {SUB_TO, false, false, false},
    [T_PI] = {SUB_TO, false, true, false},
    [F] = {SUB_FROM, false, false, false},
    [F_PO] = {SUB_FROM, true, false, false},
    [B] = {SUB_BOTH, false, false, false},
    [N_A] = {SUB_NONE, false, false, true},
    [N_PO_A] = {SUB_NONE, true, false, true},
    [T_A] = {SUB_TO, false, false, true},
};

static const char *const state_names[ST_COUNT] = {
    "None", "None+PendingOut", "None+PendingIn", "None+PendingOut+In", "To",
    "To+PendingIn", "From", "From+PendingOut", "Both", "None(approved)",
    "None+PendingOut(approved)", "To(approved)",
};

static const char *const event_names[ROSTER_EVENT_COUNT] = {
    "out subscribe", "out unsubscribe", "out subscribed", "out unsubscribed",
    "in subscribe",  "in unsubscribe",  "in subscribed",  "in unsubscribed",
};

#define R ROSTER_ACT_ROUTE
#define D ROSTER_ACT_DELIVER
#define AUTO ROSTER_ACT_AUTO_SUBSCRIBED
#define PRES ROSTER_ACT_SEND_PRESENCE
#define UNAV ROSTER_ACT_SEND_UNAVAILABLE

struct row {
    enum roster_event ev;
    enum st from;
    enum st to;
    unsigned act; /* without PUSH/CHANGED: those are derived below */
};

static const struct row rows[] = {
    /* A.2.1 outbound subscribe: always routed */
    {ROSTER_OUT_SUBSCRIBE, N, N_PO, R},
    {ROSTER_OUT_SUBSCRIBE, N_PO, N_PO, R},
    {ROSTER_OUT_SUBSCRIBE, N_PI, N_POI, R},
    {ROSTER_OUT_SUBSCRIBE, N_POI, N_POI, R},
    {ROSTER_OUT_SUBSCRIBE, T, T, R},
    {ROSTER_OUT_SUBSCRIBE, T_PI, T_PI, R},
    {ROSTER_OUT_SUBSCRIBE, F, F_PO, R},
    {ROSTER_OUT_SUBSCRIBE, F_PO, F_PO, R},
    {ROSTER_OUT_SUBSCRIBE, B, B, R},
    /* A.2.2 outbound unsubscribe: always routed */
    {ROSTER_OUT_UNSUBSCRIBE, N, N, R},
    {ROSTER_OUT_UNSUBSCRIBE, N_PO, N, R},
    {ROSTER_OUT_UNSUBSCRIBE, N_PI, N_PI, R},
    {ROSTER_OUT_UNSUBSCRIBE, N_POI, N_PI, R},
    {ROSTER_OUT_UNSUBSCRIBE, T, N, R},
    {ROSTER_OUT_UNSUBSCRIBE, T_PI, N_PI, R},
    {ROSTER_OUT_UNSUBSCRIBE, F, F, R},
    {ROSTER_OUT_UNSUBSCRIBE, F_PO, F, R},
    {ROSTER_OUT_UNSUBSCRIBE, B, F, R},
    /* A.2.3 outbound subscribed; "None", "None + Pending Out" and "To" are
     * pre-approvals (§3.4.2) */
    {ROSTER_OUT_SUBSCRIBED, N, N_A, 0},
    {ROSTER_OUT_SUBSCRIBED, N_PO, N_PO_A, 0},
    {ROSTER_OUT_SUBSCRIBED, N_PI, F, R | PRES},
    {ROSTER_OUT_SUBSCRIBED, N_POI, F_PO, R | PRES},
    {ROSTER_OUT_SUBSCRIBED, T, T_A, 0},
    {ROSTER_OUT_SUBSCRIBED, T_PI, B, R | PRES},
    {ROSTER_OUT_SUBSCRIBED, F, F, 0},
    {ROSTER_OUT_SUBSCRIBED, F_PO, F_PO, 0},
    {ROSTER_OUT_SUBSCRIBED, B, B, 0},
    {ROSTER_OUT_SUBSCRIBED, N_A, N_A, 0},
    {ROSTER_OUT_SUBSCRIBED, T_A, T_A, 0},
    /* A.2.4 outbound unsubscribed */
    {ROSTER_OUT_UNSUBSCRIBED, N, N, 0},
    {ROSTER_OUT_UNSUBSCRIBED, N_PO, N_PO, 0},
    {ROSTER_OUT_UNSUBSCRIBED, N_PI, N, R},
    {ROSTER_OUT_UNSUBSCRIBED, N_POI, N_PO, R},
    {ROSTER_OUT_UNSUBSCRIBED, T, T, 0},
    {ROSTER_OUT_UNSUBSCRIBED, T_PI, T, R},
    {ROSTER_OUT_UNSUBSCRIBED, F, N, R | UNAV},
    {ROSTER_OUT_UNSUBSCRIBED, F_PO, N_PO, R | UNAV},
    {ROSTER_OUT_UNSUBSCRIBED, B, T, R | UNAV},
    /* §3.4.2: unsubscribed cancels a pre-approval, not routed */
    {ROSTER_OUT_UNSUBSCRIBED, N_A, N, 0},
    {ROSTER_OUT_UNSUBSCRIBED, N_PO_A, N_PO, 0},
    {ROSTER_OUT_UNSUBSCRIBED, T_A, T, 0},
    /* A.3.1 inbound subscribe */
    {ROSTER_IN_SUBSCRIBE, N, N_PI, D},
    {ROSTER_IN_SUBSCRIBE, N_PO, N_POI, D},
    {ROSTER_IN_SUBSCRIBE, N_PI, N_PI, 0},
    {ROSTER_IN_SUBSCRIBE, N_POI, N_POI, 0},
    {ROSTER_IN_SUBSCRIBE, T, T_PI, D},
    {ROSTER_IN_SUBSCRIBE, T_PI, T_PI, 0},
    {ROSTER_IN_SUBSCRIBE, F, F, AUTO | PRES},
    {ROSTER_IN_SUBSCRIBE, F_PO, F_PO, AUTO | PRES},
    {ROSTER_IN_SUBSCRIBE, B, B, AUTO | PRES},
    /* §3.4.2: a pre-approved contact is approved on the user's behalf */
    {ROSTER_IN_SUBSCRIBE, N_A, F, AUTO | PRES},
    {ROSTER_IN_SUBSCRIBE, N_PO_A, F_PO, AUTO | PRES},
    {ROSTER_IN_SUBSCRIBE, T_A, B, AUTO | PRES},
    /* A.3.2 inbound unsubscribe */
    {ROSTER_IN_UNSUBSCRIBE, N, N, 0},
    {ROSTER_IN_UNSUBSCRIBE, N_PO, N_PO, 0},
    {ROSTER_IN_UNSUBSCRIBE, N_PI, N, D},
    {ROSTER_IN_UNSUBSCRIBE, N_POI, N_PO, D},
    {ROSTER_IN_UNSUBSCRIBE, T, T, 0},
    {ROSTER_IN_UNSUBSCRIBE, T_PI, T, D},
    {ROSTER_IN_UNSUBSCRIBE, F, N, D | UNAV},
    {ROSTER_IN_UNSUBSCRIBE, F_PO, N_PO, D | UNAV},
    {ROSTER_IN_UNSUBSCRIBE, B, T, D | UNAV},
    {ROSTER_IN_UNSUBSCRIBE, N_A, N_A, 0},
    /* A.3.3 inbound subscribed */
    {ROSTER_IN_SUBSCRIBED, N, N, 0},
    {ROSTER_IN_SUBSCRIBED, N_PO, T, D},
    {ROSTER_IN_SUBSCRIBED, N_PI, N_PI, 0},
    {ROSTER_IN_SUBSCRIBED, N_POI, T_PI, D},
    {ROSTER_IN_SUBSCRIBED, T, T, 0},
    {ROSTER_IN_SUBSCRIBED, T_PI, T_PI, 0},
    {ROSTER_IN_SUBSCRIBED, F, F, 0},
    {ROSTER_IN_SUBSCRIBED, F_PO, B, D},
    {ROSTER_IN_SUBSCRIBED, B, B, 0},
    /* A.3.4 inbound unsubscribed */
    {ROSTER_IN_UNSUBSCRIBED, N, N, 0},
    {ROSTER_IN_UNSUBSCRIBED, N_PO, N, D},
    {ROSTER_IN_UNSUBSCRIBED, N_PI, N_PI, 0},
    {ROSTER_IN_UNSUBSCRIBED, N_POI, N_PI, D},
    {ROSTER_IN_UNSUBSCRIBED, T, N, D},
    {ROSTER_IN_UNSUBSCRIBED, T_PI, N_PI, D},
    {ROSTER_IN_UNSUBSCRIBED, F, F, 0},
    {ROSTER_IN_UNSUBSCRIBED, F_PO, F, D},
    {ROSTER_IN_UNSUBSCRIBED, B, F, D},
};

static bool state_eq(const struct roster_state *a, const struct roster_state *b)
{
    return a->sub == b->sub && a->ask == b->ask && a->pending_in == b->pending_in &&
           a->approved == b->approved;
}

static void test_every_row(void **unused)
{
    (void)unused;
    size_t failures = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        const struct roster_state *old = &states[r->from];
        const struct roster_state *want = &states[r->to];
        struct roster_state got;
        unsigned act = roster_state_apply(old, r->ev, &got);

        unsigned want_act = r->act;
        if (old->sub != want->sub || old->ask != want->ask || old->approved != want->approved)
            want_act |= ROSTER_ACT_PUSH | ROSTER_ACT_CHANGED;
        if (old->pending_in != want->pending_in)
            want_act |= ROSTER_ACT_CHANGED;

        if (!state_eq(&got, want) || act != want_act) {
            fprintf(stderr, "row %zu: %s in %s: want %s act=%#x, got sub=%d ask=%d in=%d appr=%d act=%#x\n",
                    i, event_names[r->ev], state_names[r->from], state_names[r->to],
                    want_act, got.sub, got.ask, got.pending_in, got.approved, act);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* Every (defined state, event) pair of A.2/A.3 has a row above. */
static void test_tables_complete(void **unused)
{
    (void)unused;
    for (int ev = 0; ev < ROSTER_EVENT_COUNT; ev++)
        for (int s = N; s <= B; s++) {
            bool found = false;
            for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
                if (rows[i].ev == (enum roster_event)ev && rows[i].from == (enum st)s)
                    found = true;
            if (!found)
                fprintf(stderr, "missing row: %s in %s\n", event_names[ev], state_names[s]);
            assert_true(found);
        }
}

/* next may alias cur. */
static void test_in_place(void **unused)
{
    (void)unused;
    struct roster_state s = states[N];
    unsigned act = roster_state_apply(&s, ROSTER_OUT_SUBSCRIBE, &s);
    assert_true(state_eq(&s, &states[N_PO]));
    assert_true(act & ROSTER_ACT_ROUTE);
    act = roster_state_apply(&s, ROSTER_IN_SUBSCRIBED, &s);
    assert_true(state_eq(&s, &states[T]));
    assert_true(act & ROSTER_ACT_DELIVER);
}

/* A full handshake between two users' copies of the state machine ends in
 * "Both" on each side. */
static void test_handshake(void **unused)
{
    (void)unused;
    struct roster_state alice = states[N], bob = states[N];
    /* alice subscribes to bob */
    assert_true(roster_state_apply(&alice, ROSTER_OUT_SUBSCRIBE, &alice) & ROSTER_ACT_ROUTE);
    assert_true(roster_state_apply(&bob, ROSTER_IN_SUBSCRIBE, &bob) & ROSTER_ACT_DELIVER);
    /* bob approves and subscribes back */
    assert_true(roster_state_apply(&bob, ROSTER_OUT_SUBSCRIBED, &bob) & ROSTER_ACT_ROUTE);
    assert_true(roster_state_apply(&alice, ROSTER_IN_SUBSCRIBED, &alice) & ROSTER_ACT_DELIVER);
    assert_true(roster_state_apply(&bob, ROSTER_OUT_SUBSCRIBE, &bob) & ROSTER_ACT_ROUTE);
    assert_true(roster_state_apply(&alice, ROSTER_IN_SUBSCRIBE, &alice) & ROSTER_ACT_DELIVER);
    assert_true(roster_state_apply(&alice, ROSTER_OUT_SUBSCRIBED, &alice) & ROSTER_ACT_ROUTE);
    assert_true(roster_state_apply(&bob, ROSTER_IN_SUBSCRIBED, &bob) & ROSTER_ACT_DELIVER);
    assert_true(state_eq(&alice, &states[B]));
    assert_true(state_eq(&bob, &states[B]));
    /* alice cancels bob's subscription: bob ends with "From" */
    assert_true(roster_state_apply(&alice, ROSTER_OUT_UNSUBSCRIBED, &alice) & ROSTER_ACT_SEND_UNAVAILABLE);
    assert_true(roster_state_apply(&bob, ROSTER_IN_UNSUBSCRIBED, &bob) & ROSTER_ACT_DELIVER);
    assert_true(state_eq(&alice, &states[T]));
    assert_true(state_eq(&bob, &states[F]));
}

static void test_event_from_type(void **unused)
{
    (void)unused;
    assert_int_equal(roster_event_from_type("subscribe", true), ROSTER_OUT_SUBSCRIBE);
    assert_int_equal(roster_event_from_type("unsubscribed", true), ROSTER_OUT_UNSUBSCRIBED);
    assert_int_equal(roster_event_from_type("subscribed", false), ROSTER_IN_SUBSCRIBED);
    assert_int_equal(roster_event_from_type("unsubscribe", false), ROSTER_IN_UNSUBSCRIBE);
    assert_int_equal(roster_event_from_type("probe", false), -1);
    assert_int_equal(roster_event_from_type(NULL, false), -1);
    assert_string_equal(roster_sub_name(SUB_BOTH), "both");
    assert_string_equal(roster_sub_name(SUB_NONE), "none");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_row),
        cmocka_unit_test(test_tables_complete),
        cmocka_unit_test(test_in_place),
        cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_event_from_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
