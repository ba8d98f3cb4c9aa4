/* fuzz_stream.c - libFuzzer target for the XMPP stream parser
 * (src/xml/parser.c).
 *
 * Input: byte 0 holds flags, bytes 1-2 two split points, the rest is the
 * stream. flags bit 0: prefix a valid stream header; bit 1: a server stream
 * (jabber:server); bit 2: small limits; bit 3: restart the stream when a
 * <proceed/> or <success/> arrives (as c2s does). The input is fed once in
 * one piece and once cut at the split points; the events of the cut run
 * must be a prefix of the one-piece run (expat may hold back a big
 * unfinished token, or notice an error sooner, but never reorders or
 * invents events). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/buf.h"
#include "aldis/error.h"
#include "aldis/xml.h"
#include "fuzz_common.h"

struct run {
    struct xml_stream *xs;
    struct buf log;
    int restart;
    int restarted;
    int errors;
};

static void on_open(void *ud, struct stanza *hdr)
{
    struct run *r = ud;
    FUZZ_CHECK(strcmp(hdr->root->ns, NS_STREAMS) == 0);
    buf_adds(&r->log, "open");
    for (const struct xml_attr *a = hdr->root->attrs; a; a = a->next)
        buf_printf(&r->log, " %s=%s", a->name, a->value);
    buf_addc(&r->log, '\n');
}

static void on_element(void *ud, struct stanza *st)
{
    struct run *r = ud;
    char *s = stanza_to_string(st, NULL);
    buf_printf(&r->log, "elem %s\n", s);
    free(s);
    fuzz_stanza_exercise(st);
    int restart = r->restart && (strcmp(stanza_name(st), "proceed") == 0 ||
                                 strcmp(stanza_name(st), "success") == 0);
    stanza_unref(st);
    if (restart) {
        r->restarted = 1;
        xml_stream_reset(r->xs);
    }
}

static void on_close(void *ud)
{
    struct run *r = ud;
    buf_adds(&r->log, "close\n");
}

static void on_error(void *ud, const char *condition, const char *text)
{
    struct run *r = ud;
    FUZZ_CHECK(condition && text);
    r->errors++;
    FUZZ_CHECK(r->errors == 1); /* one error, then silence */
    /* not logged: how soon expat notices bad input depends on the cuts */
}

static const struct xml_stream_callbacks callbacks = {on_open, on_element, on_close, on_error};

static void run_feed(struct run *r, const uint8_t *flags, const char *data, size_t len,
                     const size_t *cuts, size_t ncuts)
{
    const struct xml_stream_limits big = {256 * 1024, 32, 64};
    const struct xml_stream_limits small = {512, 4, 4};
    const char *ns = (*flags & 2) ? NS_SERVER : NS_CLIENT;
    memset(r, 0, sizeof *r);
    buf_init(&r->log);
    r->restart = (*flags & 8) != 0;
    r->xs = xml_stream_new((*flags & 4) ? &small : &big, ns, &callbacks, r);
    FUZZ_CHECK(r->xs != NULL);
    if (*flags & 1) {
        char hdr[256];
        int n = snprintf(hdr, sizeof hdr,
                         "<?xml version='1.0'?><stream:stream xmlns='%s' xmlns:stream='" NS_STREAMS
                         "' to='example.com' version='1.0'>",
                         ns);
        FUZZ_CHECK(xml_stream_feed(r->xs, hdr, (size_t)n) == 0);
    }
    size_t off = 0;
    int failed = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        int rc = xml_stream_feed(r->xs, data + off, end - off);
        FUZZ_CHECK(rc == 0 || rc == ALDIS_EPROTO);
        if (rc < 0) {
            failed = 1;
        }
        FUZZ_CHECK(!failed || rc == ALDIS_EPROTO); /* no recovery after an error */
        off = end;
    }
    FUZZ_CHECK(failed == (r->errors > 0));
    xml_stream_free(r->xs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    const uint8_t flags = data[0];
    const char *body = (const char *)data + 3;
    size_t len = size - 3;
    size_t cuts[2] = {len * data[1] / 255, len * data[2] / 255};
    if (cuts[0] > cuts[1]) {
        size_t t = cuts[0];
        cuts[0] = cuts[1];
        cuts[1] = t;
    }

    struct run whole, split;
    run_feed(&whole, &flags, body, len, NULL, 0);
    run_feed(&split, &flags, body, len, cuts, 2);
    /* A restart drops the rest of its chunk, so cuts change what is parsed;
     * otherwise the cut run sees the same events, possibly fewer at the end. */
    if (!whole.restarted && !split.restarted) {
        const char *w = buf_cstr(&whole.log), *s = buf_cstr(&split.log);
        if (split.log.len > whole.log.len || memcmp(w, s, split.log.len) != 0)
            fprintf(stderr, "one piece:\n%s\ncut at %zu, %zu:\n%s\n", w, cuts[0], cuts[1], s);
        FUZZ_CHECK(split.log.len <= whole.log.len && memcmp(w, s, split.log.len) == 0);
    }
    buf_free(&whole.log);
    buf_free(&split.log);
    return 0;
}
