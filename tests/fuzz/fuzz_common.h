/* fuzz_common.h - shared checks for the fuzz targets: every stanza the
 * parser hands out must serialise, parse back and serialise to the same
 * bytes, and survive the tree operations handlers use. A broken property
 * aborts, which libFuzzer (and the corpus replay) reports as a crash. */
#ifndef ALDIS_FUZZ_COMMON_H
#define ALDIS_FUZZ_COMMON_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/xml.h"

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz property failed: %s (%s:%d)\n", #cond,       \
                    __FILE__, __LINE__);                                       \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* Exercise a parsed stanza: round trip, copy, replies, freeze. Does not
 * take the caller's reference. */
static inline void fuzz_stanza_exercise(struct stanza *st)
{
    size_t len = 0;
    char *text = stanza_to_string(st, &len);
    FUZZ_CHECK(text && strlen(text) == len);
    struct stanza *again = stanza_parse(text, len);
    FUZZ_CHECK(again != NULL);
    size_t len2 = 0;
    char *text2 = stanza_to_string(again, &len2);
    FUZZ_CHECK(len2 == len && memcmp(text, text2, len) == 0);
    free(text2);
    stanza_unref(again);

    struct stanza *copy = stanza_copy(st);
    char *text3 = stanza_to_string(copy, NULL);
    FUZZ_CHECK(strcmp(text, text3) == 0);
    free(text3);
    free(text);

    const char *name = stanza_name(copy);
    if (strcmp(name, "iq") == 0 || strcmp(name, "message") == 0 || strcmp(name, "presence") == 0) {
        struct stanza *err = stanza_error_reply(copy, "cancel", "bad-request", "fuzz <&>");
        FUZZ_CHECK(xml_child(err->root, "error", NULL) != NULL);
        size_t wl;
        stanza_wire(err, &wl);
        stanza_unref(err);
        struct stanza *res = stanza_iq_result(copy);
        stanza_unref(res);
    }
    /* readers used by handlers */
    for (struct xml_node *c = xml_first_elem(copy->root); c; c = xml_next(c, NULL, NULL))
        (void)xml_text(copy, c);
    (void)xml_attr_ns(copy->root, NS_XML, "lang");
    stanza_freeze(stanza_ref(copy));
    FUZZ_CHECK(copy->frozen && copy->wire != NULL);
    stanza_unref(copy);
    stanza_unref(copy);
}

#endif
