/* http_parse.h - the pure parsing pieces of the HTTP request path (no lws,
 * no loop), so they can be unit-tested and fuzzed on their own
 * (tests/fuzz/fuzz_http.c). */
#ifndef ALDIS_HTTP_PARSE_H
#define ALDIS_HTTP_PARSE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One "bytes=" Range of a file of `size` bytes (RFC 9110 §14.1.2): 1 with
 * [*from, *to) set, 0 when the header is unusable or names several ranges
 * (serve the whole file), -1 when unsatisfiable (416). */
int http_range_parse(const char *h, uint64_t size, uint64_t *from, uint64_t *to);
/* A URL path we may map into the static directory: absolute, bounded, no
 * control characters or backslashes, no segment starting with '.'. */
bool http_path_safe(const char *path);
/* A Host header value safe to echo into a URL: host name, IPv4 or [IPv6],
 * optional :port, nothing else. */
bool http_host_safe(const char *host);
/* The span between <body ...> and </body> of a BOSH request (the stanzas);
 * *clen = 0 for <body/>. The span is inside [d, d+len). */
void http_bosh_content(const char *d, size_t len, const char **start, size_t *clen);
/* RFC 7395 framing: what a WebSocket text message is. */
enum ws_kind { WS_EMPTY, WS_OPEN, WS_CLOSE, WS_STANZA };
/* Skips leading whitespace (*off = where the element starts). */
enum ws_kind http_ws_kind(const char *s, size_t len, size_t *off);

#endif
