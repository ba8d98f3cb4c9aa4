/* test_store_labels.c - the SQLite clearance store (store/backend_labels.h):
 * set, replace, read, list, delete, the size bounds, and the removal of a
 * deleted account's clearance with the account. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "aldis/error.h"
#include "aldis/store.h"
#include "store/backend_labels.h"
#include "store_fixture.h"

static void test_put_get_replace_del(void **state)
{
    struct fixture *f = *state;
    char *c = NULL;
    assert_int_equal(backend_labels_get(f->b, "alice@example.org", &c), ALDIS_ENOTFOUND);
    assert_null(c);
    assert_int_equal(backend_labels_put(f->b, "alice@example.org", "SECRET"), 0);
    assert_int_equal(backend_labels_get(f->b, "alice@example.org", &c), 0);
    assert_string_equal(c, "SECRET");
    free(c);
    assert_int_equal(backend_labels_put(f->b, "alice@example.org", "TOP SECRET;Releasable To=GBR"),
                     0);
    assert_int_equal(backend_labels_get(f->b, "alice@example.org", &c), 0);
    assert_string_equal(c, "TOP SECRET;Releasable To=GBR");
    free(c);
    assert_int_equal(backend_labels_del(f->b, "alice@example.org"), 0);
    assert_int_equal(backend_labels_del(f->b, "alice@example.org"), ALDIS_ENOTFOUND);
    assert_int_equal(backend_labels_get(f->b, "alice@example.org", &c), ALDIS_ENOTFOUND);
}

static int collect(void *ud, const char *subject, const char *clearance)
{
    char *out = ud;
    strcat(out, subject);
    strcat(out, "=");
    strcat(out, clearance);
    strcat(out, ";");
    return strcmp(subject, "stop@here") == 0 ? 7 : 0;
}

static void test_list(void **state)
{
    struct fixture *f = *state;
    char out[512] = "";
    assert_int_equal(backend_labels_put(f->b, "room@conference.example.org", "CONFIDENTIAL"), 0);
    assert_int_equal(backend_labels_put(f->b, "bob@example.org", "SECRET"), 0);
    assert_int_equal(backend_labels_list(f->b, collect, out), 0);
    assert_string_equal(out, "bob@example.org=SECRET;room@conference.example.org=CONFIDENTIAL;");
    /* the callback's non-zero stops the walk and is returned */
    assert_int_equal(backend_labels_put(f->b, "stop@here", "SECRET"), 0);
    assert_int_equal(backend_labels_put(f->b, "zed@example.org", "SECRET"), 0);
    out[0] = '\0';
    assert_int_equal(backend_labels_list(f->b, collect, out), 7);
    assert_null(strstr(out, "zed@"));
}

static void test_bounds(void **state)
{
    struct fixture *f = *state;
    static char big[LABELS_CLEARANCE_MAX + 2];
    memset(big, 'A', sizeof big - 1);
    assert_int_equal(backend_labels_put(f->b, "a@b", big), ALDIS_EINVAL);
    static char subject[LABELS_SUBJECT_MAX + 2];
    memset(subject, 'a', sizeof subject - 1);
    assert_int_equal(backend_labels_put(f->b, subject, "SECRET"), ALDIS_EINVAL);
}

static void test_deleted_with_account(void **state)
{
    struct fixture *f = *state;
    struct scram_keys k;
    char *c = NULL;
    assert_int_equal(scram_keys_derive("pw", SCRAM_ITERATIONS_DEFAULT, &k), 0);
    assert_int_equal(backend_user_put(f->b, "example.org", "carol", &k, BACKEND_PUT_CREATE), 0);
    assert_int_equal(backend_labels_put(f->b, "carol@example.org", "SECRET"), 0);
    assert_int_equal(backend_user_del(f->b, "example.org", "carol"), 0);
    assert_int_equal(backend_labels_get(f->b, "carol@example.org", &c), ALDIS_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_replace_del, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_with_account, setup, teardown),
    };
    return cmocka_run_group_tests_name("store labels", tests, NULL, NULL);
}
