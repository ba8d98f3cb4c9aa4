/* sasl.h - SASL for client streams through GNU SASL (RFC 6120 §6): one
 * process-wide Gsasl context; the mechanisms are GNU SASL's, the user's
 * SCRAM keys come from the store, fetched before each step that needs them. */
#ifndef ALDIS_STREAM_SASL_H
#define ALDIS_STREAM_SASL_H
#include <gsasl.h>
#include <stdbool.h>

#include "aldis/store.h"

/* What the SASL callback needs to answer for one authentication. */
struct sasl_state {
    Gsasl_session *gs;
    char mech[32];
    bool sha256;
    bool have_keys;            /* the user exists and keys are loaded */
    bool external;             /* EXTERNAL: identity taken from the certificate */
    struct scram_keys keys;
    char user[1024];           /* nodeprep'd authcid the keys belong to */
    char cb_exporter[128];      /* base64 tls-exporter, "" when none */
    char cb_unique[128];       /* base64 tls-unique, "" when none */
};

int sasl_init(void);
void sasl_done(void);
/* Is this mechanism available in the GNU SASL build? */
bool sasl_mech_supported(const char *mech);
int sasl_start(struct sasl_state *st, const char *mech);
void sasl_end(struct sasl_state *st);
/* Find the authentication identity in a client's first message (SCRAM
 * client-first or PLAIN), nodeprep'd into out. 0 or ALDIS_EPROTO. */
int sasl_peek_authcid(const char *mech, const char *msg, size_t len, char *out, size_t outlen);

/* Failed-authentication throttling (XEP-0205), per IP and per account. */
bool auth_throttled(const char *ip, const char *account, unsigned max_ip, unsigned max_account,
                    unsigned window_s);
void auth_failed(const char *ip, const char *account);
void auth_succeeded(const char *account);

#endif
