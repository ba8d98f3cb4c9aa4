/* map.h - open-addressing hash maps: string keys or 64-bit integer keys to
 * pointers. String keys are copied and owned by the map; values are not.
 * Not thread-safe: each map belongs to one owner. */
#ifndef ALDIS_MAP_H
#define ALDIS_MAP_H
#include <stddef.h>
#include <stdint.h>

struct map_slot {
    char *skey;    /* string maps */
    uint64_t ikey; /* integer maps */
    uint64_t hash;
    void *value;
    int state; /* 0 empty, 1 used, 2 deleted */
};

struct map {
    struct map_slot *slots;
    size_t cap, count, tombs;
    int integer;
};

void map_init(struct map *m, int integer_keys);
void map_free(struct map *m);
void *map_get(const struct map *m, const char *key);
void map_put(struct map *m, const char *key, void *value);
void *map_del(struct map *m, const char *key);
void *map_iget(const struct map *m, uint64_t key);
void map_iput(struct map *m, uint64_t key, void *value);
void *map_idel(struct map *m, uint64_t key);
/* Iterate: for (size_t i = 0; map_next(m, &i, &key, &val);) ... ; removal
 * during iteration is allowed (map_del of the current key). */
int map_next(const struct map *m, size_t *iter, const char **skey, void **value);
/* The same for integer maps. */
int map_inext(const struct map *m, size_t *iter, uint64_t *ikey, void **value);
uint64_t map_hash_str(const char *s);

#endif
