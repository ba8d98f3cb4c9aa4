/* fuzz_label_common.h - the example policy for the label fuzz targets,
 * loaded once from policies/ in the source tree (found relative to this
 * file, so the replay tests and libFuzzer binaries need no arguments). */
#ifndef ALDIS_FUZZ_LABEL_COMMON_H
#define ALDIS_FUZZ_LABEL_COMMON_H
#include <libgen.h>
#include <stdio.h>
#include <string.h>

#include "aldis/label.h"
#include "fuzz_common.h"

static inline const struct label_policy *fuzz_label_policy(void)
{
    static struct label_policy *policy;
    if (!policy) {
        char here[1024], path[1200], why[256];
        snprintf(here, sizeof here, "%s", __FILE__);
        snprintf(path, sizeof path, "%s/../../policies/aldis-example-policy.xml", dirname(here));
        FUZZ_CHECK(label_policy_load(path, &policy, why, sizeof why) == 0);
    }
    return policy;
}

/* Properties every accepted label must have: both encodings give it back,
 * the decision and the marking work on it. */
static inline void fuzz_label_exercise(const struct label_policy *p, const struct label *l)
{
    unsigned char *der = NULL;
    size_t len = 0;
    FUZZ_CHECK(label_to_ess_der(p, l, &der, &len) == 0);
    struct label *again = NULL;
    FUZZ_CHECK(label_from_ess_der(p, der, len, &again, NULL, 0) == 0);
    FUZZ_CHECK(label_equal(l, again));
    label_free(again);
    free(der);

    struct buf b;
    buf_init(&b);
    FUZZ_CHECK(label_to_4774(p, l, &b) == 0);
    again = NULL;
    FUZZ_CHECK(label_from_4774(p, b.data, b.len, &again, NULL, 0) == 0);
    FUZZ_CHECK(label_equal(l, again));
    label_free(again);
    buf_free(&b);

    char marking[512], why[128];
    label_marking(p, l, marking, sizeof marking, NULL, NULL);
    struct clearance *top = NULL;
    FUZZ_CHECK(clearance_parse(p, "TOP SECRET;Special Handling=KESTREL,OSPREY,KEYMAT;"
                                  "Releasable To=GBR,USA,FRA,DEU,NLD,NATO",
                               &top, why, sizeof why) == 0);
    FUZZ_CHECK(label_decide(p, top, l, why, sizeof why));
    (void)label_decide(p, NULL, l, why, sizeof why);
    clearance_free(top);
}

#endif
