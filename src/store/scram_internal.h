/* scram_internal.h - the SCRAM key derivation step with a caller-chosen salt.
 * Internal to src/store and its unit test: the public API (aldis/store.h)
 * always draws a fresh random salt, but the RFC 5802 / RFC 7677 test vectors
 * need a fixed one (RFC 5802's is 12 bytes, not SCRAM_SALT_LEN). */
#ifndef ALDIS_STORE_SCRAM_INTERNAL_H
#define ALDIS_STORE_SCRAM_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>

enum scram_hash { SCRAM_HASH_SHA1, SCRAM_HASH_SHA256 };

/* StoredKey and ServerKey (RFC 5802 §3) for an already SASLprep'd password.
 * stored_key and server_key are 20 (SHA-1) or 32 (SHA-256) bytes.
 * Returns 0 or ALDIS_EINVAL (OpenSSL failure, bad arguments). */
int scram__keys_from_prepared(enum scram_hash hash, const char *prepared,
                              const unsigned char *salt, size_t saltlen,
                              unsigned iterations, unsigned char *stored_key,
                              unsigned char *server_key);

/* SASLprep (RFC 4013) through libidn. `stored` selects the stricter
 * "stored string" rules (no unassigned code points, RFC 4013 §2 and
 * RFC 3454 §7). Returns a malloc'd string or NULL when not preparable. */
char *scram__saslprep(const char *password, bool stored);

#endif
