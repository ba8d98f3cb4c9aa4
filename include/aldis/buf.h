/* buf.h - a growable byte buffer. The buffer owns `data`; buf_free releases it.
 * Allocation failure aborts through ALDIS_ASSERT (out of memory is fatal). */
#ifndef ALDIS_BUF_H
#define ALDIS_BUF_H
#include <stddef.h>

struct buf {
    char *data; /* always NUL-terminated when len > 0 or after buf_cstr */
    size_t len;
    size_t cap;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reserve(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *data, size_t len);
void buf_adds(struct buf *b, const char *s);
void buf_addc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append `s` escaped for XML character data (attr != 0: also quotes). */
void buf_add_xml_escaped(struct buf *b, const char *s, size_t len, int attr);
/* Drop the first n bytes. */
void buf_consume(struct buf *b, size_t n);
const char *buf_cstr(struct buf *b);
/* Hand the storage to the caller (NUL-terminated); the buffer is reset. */
char *buf_steal(struct buf *b, size_t *len);

#endif
