/* fuzz_label_ess.c - libFuzzer target for ESS security labels and RFC 5755
 * clearances in DER (src/labels/label_ess.c, libtasn1), also carried
 * base64 in a XEP-0258 <securitylabel/>. Properties: only the documented
 * error codes; an accepted label re-encodes to the same label in ESS and
 * 4774 and is permitted to an all-cleared user. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "aldis/error.h"
#include "fuzz_label_common.h"
#include "labels/label_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct label_policy *p = fuzz_label_policy();
    char why[256];
    struct label *l = NULL;
    int rc = label_from_ess_der(p, data, size, &l, why, sizeof why);
    FUZZ_CHECK(rc == 0 || rc == ALDIS_EPROTO || rc == ALDIS_EINVAL || rc == ALDIS_ELIMIT);
    FUZZ_CHECK((rc == 0) == (l != NULL));
    if (l) {
        fuzz_label_exercise(p, l);
        label_free(l);
    }

    struct clearance *c = NULL;
    rc = clearance_from_der(p, data, size, &c, why, sizeof why);
    FUZZ_CHECK(rc == 0 || rc == ALDIS_EPROTO || rc == ALDIS_EINVAL || rc == ALDIS_ELIMIT);
    if (c) {
        struct buf b;
        buf_init(&b);
        FUZZ_CHECK(clearance_format(p, c, &b) == 0);
        struct clearance *again = NULL;
        FUZZ_CHECK(clearance_parse(p, b.data, &again, why, sizeof why) == 0);
        FUZZ_CHECK(clearance_covers(p, c, again) && clearance_covers(p, again, c));
        clearance_free(again);
        buf_free(&b);
        clearance_free(c);
    }

    /* the same bytes inside a stanza, as a client sends them */
    if (size <= 4096) {
        char *b64 = label__b64_encode(data, size);
        struct buf st;
        buf_init(&st);
        buf_printf(&st, "<message xmlns='jabber:client'><securitylabel xmlns='%s'><label>"
                        "<esssecuritylabel xmlns='%s'>%s</esssecuritylabel></label>"
                        "</securitylabel></message>",
                   LABEL_NS, LABEL_ESS_NS, b64);
        struct stanza *s = stanza_parse(st.data, st.len);
        FUZZ_CHECK(s != NULL);
        l = NULL;
        rc = label_from_stanza(p, s->root, &l, why, sizeof why);
        FUZZ_CHECK(rc == 0 || rc == ALDIS_EPROTO || rc == ALDIS_EINVAL);
        FUZZ_CHECK(rc != 0 || l != NULL);
        label_free(l);
        stanza_unref(s);
        buf_free(&st);
        free(b64);
    }
    return 0;
}
