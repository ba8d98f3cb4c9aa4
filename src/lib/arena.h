/* arena.h - bump allocator: many small allocations, one free. Used for
 * stanza trees (one arena per stanza). Not thread-safe; an arena belongs to
 * whoever owns its stanza. */
#ifndef ALDIS_ARENA_H
#define ALDIS_ARENA_H
#include <stddef.h>

struct arena;

struct arena *arena_new(size_t first_chunk);
void arena_free(struct arena *a);
/* Zeroed, 16-byte aligned memory valid until arena_free. */
void *arena_alloc(struct arena *a, size_t size);
char *arena_strndup(struct arena *a, const char *s, size_t len);
char *arena_strdup(struct arena *a, const char *s);
/* Total bytes held (for limits and metrics). */
size_t arena_size(const struct arena *a);

#endif
