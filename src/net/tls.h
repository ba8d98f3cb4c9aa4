/* tls.h - server TLS contexts, one per hosted domain, chosen by SNI.
 * Contexts are swapped whole on reload (SIGHUP); connections keep a
 * reference to the context they started with (OpenSSL refcounts). */
#ifndef ALDIS_NET_TLS_H
#define ALDIS_NET_TLS_H
#include <openssl/ssl.h>

#include "aldis/config.h"

/* Build contexts for every host; on success replace the current set. */
int tls_load(const struct config *cfg, char *err, size_t errlen);
/* The context to start a server handshake with (a new reference): the
 * host `domain` names, or the host it is a subdomain of (upload.HOST),
 * else the first host. */
SSL_CTX *tls_server_ctx(const char *domain);
/* Make `ctx` (built elsewhere: the https listener's) present the named
 * host's certificate on SNI, as above, keeping its other settings. */
void tls_sni_certificates(SSL_CTX *ctx);
void tls_unload(void);
/* RFC 9266 tls-exporter channel binding (32 bytes); 0 or ALDIS_ETLS. */
int tls_exporter(SSL *ssl, unsigned char out[32]);
/* RFC 5929 tls-unique (see tls.c for TLS 1.3); returns length or 0. */
size_t tls_unique(SSL *ssl, unsigned char *out, size_t max);
/* XEP-0178: the xmppAddr identities in the client's certificate, if it sent
 * one that verified against c2s.client_ca. Returns how many were written
 * (0 when the certificate has none), or -1 without a valid certificate. */
int tls_client_xmpp_addrs(SSL *ssl, char addrs[][1024], int max);
/* The server name the client asked for (SNI), or NULL. */
const char *tls_sni(SSL *ssl);
/* The value (DER) of extension `oid` of the peer's verified certificate,
 * malloc'd into *der; ALDIS_ENOTFOUND when there is none. */
int tls_client_extension(SSL *ssl, const char *oid, unsigned char **der, size_t *len);

#endif
