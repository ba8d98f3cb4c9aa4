/* fuzz_http.c - libFuzzer target for the HTTP/WebSocket/BOSH request path
 * (src/http/http_parse.c and the stream parser as the transports feed it).
 *
 * Input: byte 0 picks what the rest is:
 *   0 a Range header, then '\n' and up to 8 bytes of file size
 *   1 a URL path for the static files
 *   2 a Host header for host-meta
 *   3 a BOSH request body: its stanzas are fed to a c2s stream parser
 *   4 a WebSocket text message: <open/>/<close/> parsed, anything else fed
 *     to a c2s stream parser after the synthetic header (as websocket.c)
 * Properties: ranges stay inside the file, accepted paths and hosts have
 * no dangerous characters, spans stay inside the input, and every element
 * the parser hands out survives fuzz_stanza_exercise. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "aldis/xml.h"
#include "fuzz_common.h"
#include "http/http_parse.h"

static void on_open(void *ud, struct stanza *hdr) { (void)ud, (void)hdr; }
static void on_element(void *ud, struct stanza *st)
{
    (void)ud;
    fuzz_stanza_exercise(st);
    stanza_unref(st);
}
static void on_close(void *ud) { (void)ud; }
static void on_error(void *ud, const char *condition, const char *text)
{
    (void)ud;
    FUZZ_CHECK(condition && text);
}
static const struct xml_stream_callbacks callbacks = {on_open, on_element, on_close, on_error};

static const char header[] = "<stream:stream xmlns='jabber:client' "
                             "xmlns:stream='http://etherx.jabber.org/streams' to='x' version='1.0'>";

static void feed_stream(const char *data, size_t len)
{
    const struct xml_stream_limits lim = {64 * 1024, 32, 64};
    struct xml_stream *xs = xml_stream_new(&lim, NS_CLIENT, &callbacks, NULL);
    FUZZ_CHECK(xs != NULL);
    xml_stream_feed(xs, header, sizeof header - 1);
    xml_stream_feed(xs, data, len);
    xml_stream_free(xs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 256 * 1024)
        return 0;
    static char in[256 * 1024 + 1];
    size_t len = size - 1;
    memcpy(in, data + 1, len);
    in[len] = '\0';
    switch (data[0] % 5) {
    case 0: {
        char *nl = memchr(in, '\n', len);
        uint64_t fsize = 0;
        if (nl) {
            *nl = '\0';
            size_t n = len - (size_t)(nl + 1 - in);
            memcpy(&fsize, nl + 1, n < 8 ? n : 8);
        }
        uint64_t from = 0, to = 0;
        int rc = http_range_parse(in, fsize, &from, &to);
        FUZZ_CHECK(rc >= -1 && rc <= 1);
        if (rc == 1)
            FUZZ_CHECK(from < to && to <= fsize);
        break;
    }
    case 1:
        if (strlen(in) == len && http_path_safe(in)) {
            FUZZ_CHECK(in[0] == '/' && len <= 512);
            FUZZ_CHECK(!strstr(in, "/.") && !strchr(in, '\\'));
            for (size_t i = 0; i < len; i++)
                FUZZ_CHECK((unsigned char)in[i] >= 0x20 && in[i] != 0x7f);
        }
        break;
    case 2:
        if (strlen(in) == len && http_host_safe(in))
            FUZZ_CHECK(!strpbrk(in, "'\"<>& /\\\t\r\n@") && len > 0 && len < 256);
        break;
    case 3: {
        const char *start;
        size_t clen;
        http_bosh_content(in, len, &start, &clen);
        FUZZ_CHECK(start >= in && start + clen <= in + len);
        struct stanza *st = stanza_parse(in, len);
        if (st) {
            fuzz_stanza_exercise(st);
            stanza_unref(st);
        }
        if (clen)
            feed_stream(start, clen);
        break;
    }
    default: {
        size_t off;
        enum ws_kind k = http_ws_kind(in, len, &off);
        FUZZ_CHECK(off <= len);
        if (k == WS_OPEN || k == WS_CLOSE) {
            FUZZ_CHECK(in[off] == '<');
            struct stanza *st = stanza_parse(in + off, len - off);
            if (st) {
                fuzz_stanza_exercise(st);
                stanza_unref(st);
            }
        } else if (k == WS_STANZA) {
            feed_stream(in + off, len - off);
        } else {
            FUZZ_CHECK(off == len);
        }
        break;
    }
    }
    return 0;
}
