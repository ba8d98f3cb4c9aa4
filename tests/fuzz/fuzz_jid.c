/* fuzz_jid.c - libFuzzer target for JID parsing and preparation
 * (src/xml/jid.c). Properties: a prepared JID printed and parsed again is
 * the same JID (preparation is idempotent, RFC 7622 §3), its parts fit the
 * limits, and building it from its parts gives it back. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/jid.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char in[JID_STR_MAX + 16];
    if (size >= sizeof in)
        size = sizeof in - 1;
    memcpy(in, data, size);
    in[size] = '\0';

    static struct jid j, again, parts;
    static char full[JID_STR_MAX], full2[JID_STR_MAX];
    int rc = jid_parse(in, &j);
    FUZZ_CHECK(rc == 0 || rc == ALDIS_EINVAL);
    if (rc == 0) {
        FUZZ_CHECK(j.domain && *j.domain && strlen(j.domain) <= JID_PART_MAX);
        FUZZ_CHECK(!j.local || (*j.local && strlen(j.local) <= JID_PART_MAX));
        FUZZ_CHECK(!j.resource || (*j.resource && strlen(j.resource) <= JID_PART_MAX));
        FUZZ_CHECK(!j.local || !strpbrk(j.local, "\"&'/:<>@"));
        FUZZ_CHECK(!strpbrk(j.domain, "/@"));
        jid_full(&j, full, sizeof full);
        FUZZ_CHECK(jid_parse(full, &again) == 0);
        FUZZ_CHECK(jid_full_eq(&j, &again));
        FUZZ_CHECK(strcmp(jid_full(&again, full2, sizeof full2), full) == 0);
        FUZZ_CHECK(jid_from_parts(j.local, j.domain, j.resource, &parts) == 0);
        FUZZ_CHECK(jid_full_eq(&j, &parts));
        jid_copy(&again, &j);
        FUZZ_CHECK(jid_full_eq(&j, &again));
    }
    /* each preparation on its own, with the whole input */
    static char out[JID_PART_MAX + 1];
    if (jid_nodeprep(in, out) == 0)
        FUZZ_CHECK(strlen(out) <= JID_PART_MAX);
    if (jid_resourceprep(in, out) == 0)
        FUZZ_CHECK(strlen(out) <= JID_PART_MAX);
    if (jid_domainprep(in, out) == 0)
        FUZZ_CHECK(strlen(out) <= JID_PART_MAX);
    return 0;
}
