/* jid.h - JIDs per RFC 7622, prepared with stringprep (nodeprep,
 * resourceprep via libidn) and IDNA for domains (libidn2). */
#ifndef ALDIS_JID_H
#define ALDIS_JID_H
#include <stdbool.h>
#include <stddef.h>

#define JID_PART_MAX 1023

/* A parsed, normalised JID. Parts point into `storage`; local and resource
 * are NULL when absent. Copy with jid_copy (not memcpy). */
struct jid {
    const char *local;
    const char *domain;
    const char *resource;
    char storage[3 * (JID_PART_MAX + 1)];
};

/* Parse and prepare; returns 0 or ALDIS_EINVAL (jid-malformed). */
int jid_parse(const char *s, struct jid *out);
/* Build from parts (each is prepared); local/resource may be NULL. */
int jid_from_parts(const char *local, const char *domain, const char *resource,
                   struct jid *out);
void jid_copy(struct jid *dst, const struct jid *src);
/* A malloc'd copy sized to its content (free() it); read-only: its storage
 * is shorter than a full struct jid. NULL when out of memory. */
struct jid *jid_dup(const struct jid *src);
/* Write "local@domain" / "local@domain/resource" into buf; returns buf. */
char *jid_bare(const struct jid *j, char *buf, size_t size);
char *jid_full(const struct jid *j, char *buf, size_t size);
bool jid_bare_eq(const struct jid *a, const struct jid *b);
bool jid_full_eq(const struct jid *a, const struct jid *b);
/* Prepare a single part; returns 0 or ALDIS_EINVAL. out is JID_PART_MAX+1. */
int jid_nodeprep(const char *in, char *out);
int jid_resourceprep(const char *in, char *out);
int jid_domainprep(const char *in, char *out);

#define JID_STR_MAX (3 * (JID_PART_MAX + 1))

#endif
