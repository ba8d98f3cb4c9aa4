/* fuzz_label_4774.c - libFuzzer target for STANAG 4774 XML confidentiality
 * labels (src/labels/label_4774.c, libxml2), alone and inside a XEP-0258
 * <securitylabel/>, and for STANAG 4778 binding verification (the input as
 * a binding next to a valid label). Properties: only the documented error
 * codes; an accepted label converts to ESS and back to the same label. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "aldis/error.h"
#include "fuzz_label_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct label_policy *p = fuzz_label_policy();
    char why[256];
    struct label *l = NULL;
    int rc = label_from_4774(p, (const char *)data, size, &l, why, sizeof why);
    FUZZ_CHECK(rc == 0 || rc == ALDIS_EPROTO || rc == ALDIS_EINVAL || rc == ALDIS_ELIMIT);
    FUZZ_CHECK((rc == 0) == (l != NULL));
    if (l) {
        fuzz_label_exercise(p, l);
        label_free(l);
    }

    struct buf st;
    buf_init(&st);
    buf_printf(&st, "<message xmlns='jabber:client'><securitylabel xmlns='%s'><label>", LABEL_NS);
    buf_add(&st, data, size);
    buf_adds(&st, "</label></securitylabel></message>");
    struct stanza *s = stanza_parse(st.data, st.len);
    if (s) {
        l = NULL;
        rc = label_from_stanza(p, s->root, &l, why, sizeof why);
        FUZZ_CHECK(rc == 0 || rc == ALDIS_EPROTO || rc == ALDIS_EINVAL);
        if (l) {
            fuzz_label_exercise(p, l);
            label_free(l);
        }
        stanza_unref(s);
    }
    buf_free(&st);

    /* the input as a STANAG 4778 binding next to a valid label and body */
    buf_init(&st);
    buf_adds(&st, "<message xmlns='jabber:client'><body>x</body>");
    struct label *lowest = NULL;
    FUZZ_CHECK(label_default(p, NULL, &lowest) == 0);
    FUZZ_CHECK(label_to_xep0258(p, lowest, LABEL_FORMAT_ESS, &st) == 0);
    label_free(lowest);
    buf_add(&st, data, size);
    buf_adds(&st, "</message>");
    s = stanza_parse(st.data, st.len);
    if (s) {
        bool bound;
        rc = label_binding_verify(p, s->root, NULL, &bound, why, sizeof why);
        FUZZ_CHECK(rc == 0 || rc == ALDIS_EAUTH);
        FUZZ_CHECK(rc == 0 || bound);
        stanza_unref(s);
    }
    buf_free(&st);
    return 0;
}
