/* map.c - open-addressing (linear probing) hash maps with tombstones. */
#include <stdlib.h>
#include <string.h>

#include "aldis/error.h"
#include "lib/map.h"

uint64_t map_hash_str(const char *s)
{
    /* FNV-1a, then a final mix so low bits are well distributed */
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_int(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

void map_init(struct map *m, int integer_keys)
{
    memset(m, 0, sizeof *m);
    m->integer = integer_keys;
}

void map_free(struct map *m)
{
    if (!m->integer)
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].state == 1)
                free(m->slots[i].skey);
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = m->tombs = 0;
}

static struct map_slot *find(const struct map *m, const char *skey, uint64_t ikey, uint64_t h)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct map_slot *s = &m->slots[i];
        if (s->state == 0)
            return NULL;
        if (s->state == 1 && s->hash == h &&
            (m->integer ? s->ikey == ikey : (skey && strcmp(s->skey, skey) == 0)))
            return s;
    }
}

static void grow(struct map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    if (m->count * 2 < m->cap)
        ncap = m->cap; /* mostly tombstones: rehash in place size */
    struct map_slot *old = m->slots;
    size_t ocap = m->cap;
    m->slots = calloc(ncap, sizeof *m->slots);
    ALDIS_ASSERT(m->slots != NULL);
    m->cap = ncap;
    m->tombs = 0;
    for (size_t i = 0; i < ocap; i++) {
        if (old[i].state != 1)
            continue;
        size_t j = old[i].hash & (ncap - 1);
        while (m->slots[j].state)
            j = (j + 1) & (ncap - 1);
        m->slots[j] = old[i];
    }
    free(old);
}

static void put(struct map *m, const char *skey, uint64_t ikey, uint64_t h, void *value)
{
    struct map_slot *s = find(m, skey, ikey, h);
    if (s) {
        s->value = value;
        return;
    }
    if ((m->count + m->tombs + 1) * 4 >= m->cap * 3)
        grow(m);
    size_t mask = m->cap - 1, i = h & mask;
    while (m->slots[i].state == 1)
        i = (i + 1) & mask;
    s = &m->slots[i];
    if (s->state == 2)
        m->tombs--;
    s->state = 1;
    s->hash = h;
    s->ikey = ikey;
    s->skey = skey ? strdup(skey) : NULL;
    ALDIS_ASSERT(!skey || s->skey);
    s->value = value;
    m->count++;
}

static void *del(struct map *m, const char *skey, uint64_t ikey, uint64_t h)
{
    struct map_slot *s = find(m, skey, ikey, h);
    if (!s)
        return NULL;
    void *v = s->value;
    free(s->skey);
    s->skey = NULL;
    s->state = 2;
    m->count--;
    m->tombs++;
    return v;
}

void *map_get(const struct map *m, const char *key)
{
    struct map_slot *s = find(m, key, 0, map_hash_str(key));
    return s ? s->value : NULL;
}
void map_put(struct map *m, const char *key, void *value) { put(m, key, 0, map_hash_str(key), value); }
void *map_del(struct map *m, const char *key) { return del(m, key, 0, map_hash_str(key)); }
void *map_iget(const struct map *m, uint64_t key)
{
    struct map_slot *s = find(m, NULL, key, hash_int(key));
    return s ? s->value : NULL;
}
void map_iput(struct map *m, uint64_t key, void *value) { put(m, NULL, key, hash_int(key), value); }
void *map_idel(struct map *m, uint64_t key) { return del(m, NULL, key, hash_int(key)); }

int map_next(const struct map *m, size_t *iter, const char **skey, void **value)
{
    for (; *iter < m->cap; (*iter)++) {
        struct map_slot *s = &m->slots[*iter];
        if (s->state != 1)
            continue;
        if (skey)
            *skey = s->skey;
        if (value)
            *value = s->value;
        (*iter)++;
        return 1;
    }
    return 0;
}

int map_inext(const struct map *m, size_t *iter, uint64_t *ikey, void **value)
{
    for (; *iter < m->cap; (*iter)++) {
        struct map_slot *s = &m->slots[*iter];
        if (s->state != 1)
            continue;
        if (ikey)
            *ikey = s->ikey;
        if (value)
            *value = s->value;
        (*iter)++;
        return 1;
    }
    return 0;
}
