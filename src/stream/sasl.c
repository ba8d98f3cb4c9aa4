/* sasl.c - the GNU SASL glue (property callback answering from the stored
 * SCRAM keys) and failed-authentication throttling. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aldis/error.h"
#include "aldis/jid.h"
#include "aldis/log.h"
#include "lib/map.h"
#include "stream/sasl.h"

static Gsasl *ctx;

/* ---- throttling ---- */

struct fail_count {
    unsigned n;
    time_t since;
};

static pthread_mutex_t throttle_lock = PTHREAD_MUTEX_INITIALIZER;
static struct map by_ip = {.integer = 0}, by_account = {.integer = 0};
static time_t last_purge;

static int on_property(Gsasl *g, Gsasl_session *gs, Gsasl_property prop)
{
    (void)g;
    struct sasl_state *st = gsasl_session_hook_get(gs);
    if (!st)
        return GSASL_NO_CALLBACK;
    char tmp[32];
    switch (prop) {
    case GSASL_SCRAM_ITER:
        if (!st->have_keys)
            return GSASL_NO_CALLBACK;
        snprintf(tmp, sizeof tmp, "%u", st->keys.iterations);
        return gsasl_property_set(gs, prop, tmp);
    case GSASL_SCRAM_SALT: {
        if (!st->have_keys)
            return GSASL_NO_CALLBACK;
        char *b64 = NULL;
        size_t len;
        if (gsasl_base64_to((const char *)st->keys.salt, SCRAM_SALT_LEN, &b64, &len) != GSASL_OK)
            return GSASL_MALLOC_ERROR;
        int rc = gsasl_property_set(gs, prop, b64);
        gsasl_free(b64);
        return rc;
    }
    case GSASL_SCRAM_STOREDKEY:
    case GSASL_SCRAM_SERVERKEY: {
        if (!st->have_keys)
            return GSASL_NO_CALLBACK;
        const unsigned char *k;
        size_t n = st->sha256 ? SCRAM_SHA256_LEN : SCRAM_SHA1_LEN;
        if (prop == GSASL_SCRAM_STOREDKEY)
            k = st->sha256 ? st->keys.stored_key_sha256 : st->keys.stored_key_sha1;
        else
            k = st->sha256 ? st->keys.server_key_sha256 : st->keys.server_key_sha1;
        /* GNU SASL 2.x base64-decodes these (its header says hex) */
        char *b64 = NULL;
        if (gsasl_base64_to((const char *)k, n, &b64, NULL) != GSASL_OK)
            return GSASL_MALLOC_ERROR;
        int rc = gsasl_property_set(gs, prop, b64);
        gsasl_free(b64);
        return rc;
    }
    case GSASL_CB_TLS_EXPORTER:
        return st->cb_exporter[0] ? gsasl_property_set(gs, prop, st->cb_exporter) : GSASL_NO_CALLBACK;
    case GSASL_CB_TLS_UNIQUE:
        return st->cb_unique[0] ? gsasl_property_set(gs, prop, st->cb_unique) : GSASL_NO_CALLBACK;
    case GSASL_VALIDATE_EXTERNAL:
        /* the identity came from a verified certificate and the account
         * exists (checked before the step, see c2s.c) */
        return st->have_keys && st->external ? GSASL_OK : GSASL_AUTHENTICATION_ERROR;
    case GSASL_VALIDATE_SIMPLE: {
        const char *authid = gsasl_property_fast(gs, GSASL_AUTHID);
        const char *password = gsasl_property_fast(gs, GSASL_PASSWORD);
        char prepped[JID_PART_MAX + 1];
        if (!st->have_keys || !authid || !password || jid_nodeprep(authid, prepped) < 0 ||
            strcmp(prepped, st->user) != 0)
            return GSASL_AUTHENTICATION_ERROR;
        return scram_keys_check(&st->keys, password) ? GSASL_OK : GSASL_AUTHENTICATION_ERROR;
    }
    default:
        return GSASL_NO_CALLBACK;
    }
}

int sasl_init(void)
{
    if (gsasl_init(&ctx) != GSASL_OK)
        return ALDIS_ENOMEM;
    gsasl_callback_set(ctx, on_property);
    return 0;
}

static void free_counts(struct map *m)
{
    void *v;
    for (size_t it = 0; map_next(m, &it, NULL, &v);)
        free(v);
    map_free(m);
}

void sasl_done(void)
{
    if (ctx)
        gsasl_done(ctx);
    ctx = NULL;
    free_counts(&by_ip);
    free_counts(&by_account);
}

bool sasl_mech_supported(const char *mech) { return ctx && gsasl_server_support_p(ctx, mech); }

int sasl_start(struct sasl_state *st, const char *mech)
{
    if (gsasl_server_start(ctx, mech, &st->gs) != GSASL_OK) {
        st->gs = NULL;
        return ALDIS_EINVAL;
    }
    snprintf(st->mech, sizeof st->mech, "%s", mech);
    st->sha256 = strstr(mech, "SHA-256") != NULL;
    gsasl_session_hook_set(st->gs, st);
    return 0;
}

void sasl_end(struct sasl_state *st)
{
    if (st->gs)
        gsasl_finish(st->gs);
    st->gs = NULL;
    st->have_keys = false;
    memset(&st->keys, 0, sizeof st->keys);
}

/* RFC 5802 §5.1: saslname escapes ',' as =2C and '=' as =3D */
static int unescape_saslname(const char *in, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '=') {
            if (i + 2 >= len)
                return ALDIS_EPROTO;
            if (in[i + 1] == '2' && in[i + 2] == 'C')
                c = ',';
            else if (in[i + 1] == '3' && in[i + 2] == 'D')
                c = '=';
            else
                return ALDIS_EPROTO;
            i += 2;
        }
        if (o + 1 >= outlen)
            return ALDIS_EPROTO;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

int sasl_peek_authcid(const char *mech, const char *msg, size_t len, char *out, size_t outlen)
{
    char raw[1024];
    if (strcmp(mech, "PLAIN") == 0) {
        /* RFC 4616: [authzid] NUL authcid NUL passwd */
        const char *nul1 = memchr(msg, '\0', len);
        if (!nul1)
            return ALDIS_EPROTO;
        const char *authcid = nul1 + 1;
        const char *nul2 = memchr(authcid, '\0', len - (size_t)(authcid - msg));
        if (!nul2 || (size_t)(nul2 - authcid) >= sizeof raw)
            return ALDIS_EPROTO;
        memcpy(raw, authcid, (size_t)(nul2 - authcid));
        raw[nul2 - authcid] = '\0';
    } else if (strncmp(mech, "SCRAM-", 6) == 0) {
        /* gs2-header "cbflag,[a=authzid]," then "n=user,r=nonce..." */
        const char *p = memchr(msg, ',', len);
        if (!p)
            return ALDIS_EPROTO;
        p = memchr(p + 1, ',', len - (size_t)(p + 1 - msg));
        if (!p)
            return ALDIS_EPROTO;
        p++;
        size_t rest = len - (size_t)(p - msg);
        if (rest < 2 || p[0] != 'n' || p[1] != '=')
            return ALDIS_EPROTO;
        const char *end = memchr(p, ',', rest);
        if (!end)
            return ALDIS_EPROTO;
        if (unescape_saslname(p + 2, (size_t)(end - p - 2), raw, sizeof raw) < 0)
            return ALDIS_EPROTO;
    } else {
        return ALDIS_EPROTO;
    }
    if (memchr(raw, '@', strlen(raw)))
        return ALDIS_EPROTO;
    char prepped[JID_PART_MAX + 1];
    if (jid_nodeprep(raw, prepped) < 0 || strlen(prepped) >= outlen)
        return ALDIS_EPROTO;
    strcpy(out, prepped);
    return 0;
}

static void purge(time_t now, unsigned window)
{
    if (now - last_purge < (time_t)window)
        return;
    last_purge = now;
    struct map *maps[2] = {&by_ip, &by_account};
    for (int i = 0; i < 2; i++) {
        const char *k;
        void *v;
        for (size_t it = 0; map_next(maps[i], &it, &k, &v);) {
            struct fail_count *f = v;
            if (now - f->since >= (time_t)window) {
                map_del(maps[i], k);
                free(f);
            }
        }
    }
}

static bool over(struct map *m, const char *key, unsigned max, unsigned window, time_t now)
{
    if (!key || !max)
        return false;
    struct fail_count *f = map_get(m, key);
    return f && now - f->since < (time_t)window && f->n >= max;
}

bool auth_throttled(const char *ip, const char *account, unsigned max_ip, unsigned max_account,
                    unsigned window)
{
    time_t now = time(NULL);
    pthread_mutex_lock(&throttle_lock);
    purge(now, window ? window : 60);
    bool r = over(&by_ip, ip, max_ip, window, now) || over(&by_account, account, max_account, window, now);
    pthread_mutex_unlock(&throttle_lock);
    return r;
}

static void bump(struct map *m, const char *key, time_t now)
{
    if (!key)
        return;
    struct fail_count *f = map_get(m, key);
    if (!f) {
        f = calloc(1, sizeof *f);
        ALDIS_ASSERT(f != NULL);
        f->since = now;
        map_put(m, key, f);
    }
    f->n++;
}

void auth_failed(const char *ip, const char *account)
{
    time_t now = time(NULL);
    pthread_mutex_lock(&throttle_lock);
    bump(&by_ip, ip, now);
    bump(&by_account, account, now);
    pthread_mutex_unlock(&throttle_lock);
}

void auth_succeeded(const char *account)
{
    pthread_mutex_lock(&throttle_lock);
    struct fail_count *f = account ? map_del(&by_account, account) : NULL;
    pthread_mutex_unlock(&throttle_lock);
    free(f);
}
