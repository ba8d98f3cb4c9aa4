/* label_fixture.h - shared by the tests/unit/test_label_*.c tests: loads the
 * shipped example policies (policies/ in the source tree, found relative to
 * this file) and small helpers. */
#ifndef ALDIS_LABEL_FIXTURE_H
#define ALDIS_LABEL_FIXTURE_H
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/label.h"

static inline void label_fixture_path(const char *file, char *out, size_t size)
{
    char here[1024];
    snprintf(here, sizeof here, "%s", __FILE__);
    snprintf(out, size, "%s/../../policies/%s", dirname(here), file);
}

static inline struct label_policy *label_fixture_load(const char *file)
{
    char path[1200], why[512] = "";
    label_fixture_path(file, path, sizeof path);
    struct label_policy *p = NULL;
    int rc = label_policy_load(path, &p, why, sizeof why);
    if (rc != 0) {
        fprintf(stderr, "cannot load %s: %s\n", path, why);
        abort();
    }
    return p;
}

static inline struct label_policy *label_fixture_a(void)
{
    return label_fixture_load("aldis-example-policy.xml");
}

static inline struct label_policy *label_fixture_b(void)
{
    return label_fixture_load("aldis-example-policy-b.xml");
}

/* A label from a classification and up to two "TAG=V" categories; aborts
 * on failure (the fixtures are known good). */
static inline struct label *label_fixture_make(const struct label_policy *p, const char *cls,
                                               const char *c1, const char *c2)
{
    const char *cats[2] = {NULL, NULL};
    size_t n = 0;
    if (c1)
        cats[n++] = c1;
    if (c2)
        cats[n++] = c2;
    char why[256] = "";
    struct label *l = NULL;
    if (label_make(p, cls, cats, n, &l, why, sizeof why) != 0) {
        fprintf(stderr, "label_make %s: %s\n", cls, why);
        abort();
    }
    return l;
}

static inline struct clearance *label_fixture_clearance(const struct label_policy *p,
                                                        const char *text)
{
    char why[256] = "";
    struct clearance *c = NULL;
    if (clearance_parse(p, text, &c, why, sizeof why) != 0) {
        fprintf(stderr, "clearance_parse %s: %s\n", text, why);
        abort();
    }
    return c;
}

#endif
