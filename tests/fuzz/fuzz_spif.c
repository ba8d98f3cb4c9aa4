/* fuzz_spif.c - libFuzzer target for the Open XML SPIF loader
 * (src/labels/label_policy.c). Properties: a refused policy says why; an
 * accepted one has a lowest classification whose default label the default
 * clearance may read, and its summary and catalog can be produced. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "aldis/error.h"
#include "aldis/label.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[512] = "";
    struct label_policy *p = NULL;
    int rc = label_policy_parse((const char *)data, size, &p, why, sizeof why);
    FUZZ_CHECK(rc == 0 || rc == ALDIS_ECONFIG);
    FUZZ_CHECK((rc == 0) == (p != NULL));
    if (!p) {
        FUZZ_CHECK(why[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(label_policy_lowest(p) && label_policy_id(p) && label_policy_name(p));
    static FILE *sink;
    if (!sink)
        sink = fopen("/dev/null", "w");
    if (sink)
        label_policy_summary(p, sink);
    struct label *l = NULL;
    FUZZ_CHECK(label_default(p, NULL, &l) == 0);
    struct clearance *c = NULL;
    FUZZ_CHECK(clearance_default(p, &c) == 0);
    FUZZ_CHECK(label_decide(p, c, l, why, sizeof why));
    struct buf b;
    buf_init(&b);
    FUZZ_CHECK(label_catalog(p, c, NULL, NULL, true, LABEL_FORMAT_ESS, &b) == 0);
    FUZZ_CHECK(label_to_xep0258(p, l, LABEL_FORMAT_4774, &b) == 0);
    buf_free(&b);
    clearance_free(c);
    label_free(l);
    label_policy_free(p);
    return 0;
}
