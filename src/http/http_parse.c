/* http_parse.c - pure parsers of the HTTP request path (see http_parse.h).
 * Every input is hostile: lengths are bounded by the caller's buffers and
 * nothing here reads past `len` or allocates. */
#include <stdlib.h>
#include <string.h>

#include "http/http_parse.h"

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Decimal without sign or overflow; false if none or too big. */
static bool parse_u64(const char *p, const char **end, uint64_t *out)
{
    uint64_t v = 0;
    const char *s = p;
    while (is_digit(*p)) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
        p++;
    }
    *end = p;
    *out = v;
    return p != s;
}

int http_range_parse(const char *h, uint64_t size, uint64_t *from, uint64_t *to)
{
    if (strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
        return 0; /* other units or several ranges: the whole file is allowed */
    const char *p = h + 6, *end;
    uint64_t a, b;
    if (*p == '-') {
        /* suffix: the last n bytes */
        if (!parse_u64(p + 1, &end, &b) || *end)
            return 0;
        if (b == 0 || size == 0)
            return -1;
        *from = b >= size ? 0 : size - b;
        *to = size;
        return 1;
    }
    if (!parse_u64(p, &end, &a) || *end != '-')
        return 0;
    p = end + 1;
    bool open = *p == '\0';
    if (!open && (!parse_u64(p, &end, &b) || *end || b < a))
        return 0;
    if (a >= size)
        return -1;
    *from = a;
    *to = open || b >= size ? size : b + 1;
    return 1;
}

bool http_path_safe(const char *path)
{
    size_t n = strnlen(path, 513);
    if (path[0] != '/' || n > 512)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)path[i];
        if (ch < 0x20 || ch == 0x7f || ch == '\\')
            return false;
        /* no "..", no hidden files (".git", ".env") anywhere */
        if (ch == '/' && path[i + 1] == '.')
            return false;
    }
    return true;
}

bool http_host_safe(const char *host)
{
    size_t n = strnlen(host, 256);
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]",
                    host[i]))
            return false;
    return true;
}

void http_bosh_content(const char *d, size_t len, const char **start, size_t *clen)
{
    *start = d;
    *clen = 0;
    char quote = 0;
    size_t i = 0;
    while (i < len && d[i] != '<')
        i++;
    for (; i < len; i++) {
        if (quote) {
            if (d[i] == quote)
                quote = 0;
        } else if (d[i] == '\'' || d[i] == '"') {
            quote = d[i];
        } else if (d[i] == '>') {
            break;
        }
    }
    if (i >= len || i == 0 || d[i - 1] == '/')
        return; /* no start tag end, or <body/> */
    /* the last "</" of the input closes the body */
    size_t end = len;
    while (end > i + 1 && !(d[end - 2] == '<' && d[end - 1] == '/'))
        end--;
    if (end <= i + 2)
        return;
    *start = d + i + 1;
    *clen = (end - 2) - (i + 1);
}

static bool starts_with_tag(const char *s, size_t len, const char *tag)
{
    size_t n = strlen(tag);
    return len > n && memcmp(s, tag, n) == 0 && strchr(" \t\r\n/>", s[n]) && s[n] != '\0';
}

enum ws_kind http_ws_kind(const char *s, size_t len, size_t *off)
{
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    *off = i;
    if (i == len)
        return WS_EMPTY; /* whitespace keepalive */
    if (starts_with_tag(s + i, len - i, "<open"))
        return WS_OPEN;
    if (starts_with_tag(s + i, len - i, "<close"))
        return WS_CLOSE;
    return WS_STANZA;
}
