/* arena.c - chunked bump allocator. The arena header lives in the first
 * chunk, so a small stanza costs one malloc. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "lib/arena.h"

struct chunk {
    struct chunk *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    _Alignas(16) unsigned char data[];
};

struct arena {
    struct chunk *head;
    size_t total;
    struct chunk first;
};

#define ALIGN16(n) (((n) + 15u) & ~(size_t)15u)

struct arena *arena_new(size_t first_chunk)
{
    if (first_chunk < 256)
        first_chunk = 256;
    struct arena *a = malloc(sizeof *a + first_chunk);
    ALDIS_ASSERT(a != NULL);
    a->first.next = NULL;
    a->first.size = first_chunk;
    a->first.used = 0;
    a->head = &a->first;
    a->total = sizeof *a + first_chunk;
    return a;
}

void arena_free(struct arena *a)
{
    if (!a)
        return;
    struct chunk *c = a->head;
    while (c && c != &a->first) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
    free(a);
}

void *arena_alloc(struct arena *a, size_t size)
{
    size = ALIGN16(size ? size : 1);
    struct chunk *c = a->head;
    if (c->size - c->used < size) {
        size_t want = c->size * 2;
        if (want < size)
            want = size;
        struct chunk *n = malloc(sizeof *n + want);
        ALDIS_ASSERT(n != NULL);
        n->next = c;
        n->size = want;
        n->used = 0;
        a->head = n;
        a->total += sizeof *n + want;
        c = n;
    }
    void *p = c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t len)
{
    char *d = arena_alloc(a, len + 1);
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *arena_strdup(struct arena *a, const char *s) { return arena_strndup(a, s, strlen(s)); }

size_t arena_size(const struct arena *a) { return a->total; }
