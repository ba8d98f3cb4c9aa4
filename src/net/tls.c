/* tls.c - OpenSSL server contexts for the hosted domains (RFC 7590: TLS 1.2
 * or later, no compression, no renegotiation), SNI selection, and channel
 * binding data for SCRAM-PLUS. */
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "net/tls.h"

struct tls_set {
    size_t n;
    char *domains[CONFIG_MAX_HOSTS];
    SSL_CTX *ctx[CONFIG_MAX_HOSTS];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct tls_set *current;

static void set_free(struct tls_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        SSL_CTX_free(s->ctx[i]);
        free(s->domains[i]);
    }
    free(s);
}

static int on_sni(SSL *ssl, int *alert, void *arg)
{
    (void)alert, (void)arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name)
        return SSL_TLSEXT_ERR_OK;
    SSL_CTX *ctx = tls_server_ctx(name);
    if (ctx) {
        SSL_set_SSL_CTX(ssl, ctx);
        SSL_CTX_free(ctx);
    }
    return SSL_TLSEXT_ERR_OK;
}

static int accept_any_client_cert(int preverify_ok, X509_STORE_CTX *x)
{
    (void)preverify_ok, (void)x;
    return 1; /* the result stays in SSL_get_verify_result() */
}

static SSL_CTX *make_ctx(const struct config *cfg, const struct host_config *h, char *err,
                         size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return NULL;
    int minv = (cfg->tls_min_version && strcmp(cfg->tls_min_version, "1.3") == 0)
                   ? TLS1_3_VERSION
                   : TLS1_2_VERSION;
    SSL_CTX_set_min_proto_version(ctx, minv);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (cfg->tls_ciphers && SSL_CTX_set_cipher_list(ctx, cfg->tls_ciphers) != 1) {
        snprintf(err, errlen, "tls.ciphers: OpenSSL accepts none of '%s'", cfg->tls_ciphers);
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, h->certificate) != 1) {
        snprintf(err, errlen, "host %s: cannot load certificate %s: %s", h->domain, h->certificate,
                 ERR_reason_error_string(ERR_get_error()));
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, h->key, SSL_FILETYPE_PEM) != 1) {
        snprintf(err, errlen, "host %s: cannot load key %s: %s", h->domain, h->key,
                 ERR_reason_error_string(ERR_get_error()));
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "host %s: key %s does not match certificate %s", h->domain, h->key,
                 h->certificate);
        goto fail;
    }
    if (cfg->client_ca) {
        /* XEP-0178: ask for a client certificate, never require one (the
         * client may use SCRAM); the verdict is read at SASL EXTERNAL. */
        if (SSL_CTX_load_verify_locations(ctx, cfg->client_ca, NULL) != 1) {
            snprintf(err, errlen, "c2s.client_ca: cannot load %s: %s", cfg->client_ca,
                     ERR_reason_error_string(ERR_get_error()));
            goto fail;
        }
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->client_ca);
        if (names)
            SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any_client_cert);
    }
    SSL_CTX_set_tlsext_servername_callback(ctx, on_sni);
    /* Resumption through stateless tickets only: a server-side session
     * cache costs memory per connection and is per process anyway. One
     * ticket per handshake (OpenSSL sends two by default) is enough for a
     * client that reconnects. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"aldis", 5);
    return ctx;
fail:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

int tls_load(const struct config *cfg, char *err, size_t errlen)
{
    struct tls_set *s = calloc(1, sizeof *s);
    if (!s)
        return ALDIS_ENOMEM;
    for (size_t i = 0; i < cfg->nhosts; i++) {
        SSL_CTX *ctx = make_ctx(cfg, &cfg->hosts[i], err, errlen);
        if (!ctx) {
            set_free(s);
            return ALDIS_ETLS;
        }
        s->ctx[s->n] = ctx;
        s->domains[s->n] = strdup(cfg->hosts[i].domain);
        s->n++;
    }
    pthread_mutex_lock(&lock);
    struct tls_set *old = current;
    current = s;
    pthread_mutex_unlock(&lock);
    set_free(old);
    return 0;
}

void tls_unload(void)
{
    pthread_mutex_lock(&lock);
    struct tls_set *old = current;
    current = NULL;
    pthread_mutex_unlock(&lock);
    set_free(old);
}

/* Is `name` the host `domain` itself (2) or one of its subdomains (1), e.g.
 * upload.example.org for example.org? 0 otherwise. */
static int host_match(const char *domain, const char *name)
{
    size_t dl = strlen(domain), nl = strlen(name);
    if (nl == dl)
        return strcasecmp(domain, name) == 0 ? 2 : 0;
    return nl > dl + 1 && name[nl - dl - 1] == '.' && strcasecmp(name + nl - dl, domain) == 0;
}

SSL_CTX *tls_server_ctx(const char *domain)
{
    SSL_CTX *ctx = NULL;
    pthread_mutex_lock(&lock);
    if (current && current->n) {
        /* the host itself, else the longest host it is a subdomain of,
         * else the first host */
        size_t best = 0, best_len = 0;
        int best_kind = 0;
        for (size_t i = 0; domain && i < current->n; i++) {
            int kind = host_match(current->domains[i], domain);
            size_t len = strlen(current->domains[i]);
            if (kind > best_kind || (kind && kind == best_kind && len > best_len))
                best = i, best_kind = kind, best_len = len;
        }
        ctx = current->ctx[best];
        SSL_CTX_up_ref(ctx);
    }
    pthread_mutex_unlock(&lock);
    return ctx;
}

/* For TLS contexts made by someone else (libwebsockets' https vhost): on
 * SNI, only the certificate, chain and key of the named host are put on
 * the connection; the context's other settings (ALPN, verification) stay. */
static int on_sni_cert_only(SSL *ssl, int *alert, void *arg)
{
    (void)arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name)
        return SSL_TLSEXT_ERR_OK;
    SSL_CTX *ctx = tls_server_ctx(name);
    if (ctx) {
        X509 *cert = SSL_CTX_get0_certificate(ctx);
        EVP_PKEY *key = SSL_CTX_get0_privatekey(ctx);
        STACK_OF(X509) *chain = NULL;
        SSL_CTX_get0_chain_certs(ctx, &chain);
        /* The host's certificate alone: one of another key type left in
         * place (ECDSA beside RSA) could be preferred by the handshake. */
        if (cert && key) {
            SSL_certs_clear(ssl);
            if (SSL_use_cert_and_key(ssl, cert, key, chain, 1) != 1) {
                ERR_clear_error();
                SSL_CTX_free(ctx);
                *alert = SSL_AD_INTERNAL_ERROR;
                return SSL_TLSEXT_ERR_ALERT_FATAL;
            }
        }
        SSL_CTX_free(ctx);
    }
    return SSL_TLSEXT_ERR_OK;
}

void tls_sni_certificates(SSL_CTX *ctx)
{
    SSL_CTX_set_tlsext_servername_callback(ctx, on_sni_cert_only);
}

int tls_exporter(SSL *ssl, unsigned char out[32])
{
    /* RFC 9266 §2: label "EXPORTER-Channel-Binding", empty context */
    static const char label[] = "EXPORTER-Channel-Binding";
    if (SSL_export_keying_material(ssl, out, 32, label, sizeof label - 1, NULL, 0, 0) != 1)
        return ALDIS_ETLS;
    return 0;
}

size_t tls_unique(SSL *ssl, unsigned char *out, size_t max)
{
    /* RFC 5929 §3.1: the first Finished message of the latest handshake;
     * for a server without resumption that is the client's. RFC 9266 makes
     * tls-exporter the binding for TLS 1.3, but common clients (slixmpp,
     * older Gajim/Conversations) only know tls-unique and compute it from
     * the Finished message under TLS 1.3 too; we answer them in kind so
     * their -PLUS logins keep a channel binding instead of failing. */
    return SSL_session_reused(ssl) ? SSL_get_finished(ssl, out, max)
                                   : SSL_get_peer_finished(ssl, out, max);
}

const char *tls_sni(SSL *ssl) { return SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name); }

int tls_client_extension(SSL *ssl, const char *oid, unsigned char **der, size_t *len)
{
    int rc = ALDIS_ENOTFOUND;
    *der = NULL;
    *len = 0;
    if (SSL_get_verify_result(ssl) != X509_V_OK)
        return ALDIS_EAUTH;
    X509 *cert = SSL_get1_peer_certificate(ssl);
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    int at = cert && obj ? X509_get_ext_by_OBJ(cert, obj, -1) : -1;
    X509_EXTENSION *ext = at >= 0 ? X509_get_ext(cert, at) : NULL;
    ASN1_OCTET_STRING *data = ext ? X509_EXTENSION_get_data(ext) : NULL;
    if (data && ASN1_STRING_length(data) > 0) {
        *len = (size_t)ASN1_STRING_length(data);
        *der = malloc(*len);
        ALDIS_ASSERT(*der != NULL);
        memcpy(*der, ASN1_STRING_get0_data(data), *len);
        rc = 0;
    }
    ASN1_OBJECT_free(obj);
    X509_free(cert);
    return rc;
}

/* id-on-xmppAddr (RFC 6120 §13.7.1.4) */
#define OID_XMPP_ADDR "1.3.6.1.5.5.7.8.5"

int tls_client_xmpp_addrs(SSL *ssl, char addrs[][1024], int max)
{
    if (SSL_get_verify_result(ssl) != X509_V_OK)
        return -1;
    X509 *cert = SSL_get1_peer_certificate(ssl);
    if (!cert)
        return -1;
    int n = 0;
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    ASN1_OBJECT *xmpp = OBJ_txt2obj(OID_XMPP_ADDR, 1);
    for (int i = 0; names && xmpp && i < sk_GENERAL_NAME_num(names) && n < max; i++) {
        GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        if (gn->type != GEN_OTHERNAME || OBJ_cmp(gn->d.otherName->type_id, xmpp) != 0)
            continue;
        ASN1_TYPE *v = gn->d.otherName->value;
        if (!v || v->type != V_ASN1_UTF8STRING)
            continue;
        int len = ASN1_STRING_length(v->value.utf8string);
        if (len <= 0 || len >= 1024)
            continue;
        memcpy(addrs[n], ASN1_STRING_get0_data(v->value.utf8string), (size_t)len);
        addrs[n][len] = '\0';
        n++;
    }
    ASN1_OBJECT_free(xmpp);
    GENERAL_NAMES_free(names);
    X509_free(cert);
    return n;
}
