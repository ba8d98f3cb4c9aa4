/* config.h - the server's settings, read from aldis.yaml.
 *
 * config_load() parses the YAML (libyaml), checks every key against the
 * option rows (an unknown key is an error), and reports problems as
 * "FILE:LINE: message". Relative paths are resolved against the directory of
 * the config file. The result is immutable once loaded; a SIGHUP reload
 * builds a new one and swaps the safe parts. */
#ifndef ALDIS_CONFIG_H
#define ALDIS_CONFIG_H
#include <stdbool.h>
#include <stddef.h>

#define CONFIG_MAX_HOSTS 32
#define CONFIG_MAX_MODULES 64

struct listen_config {
    char *address; /* default "::" (all, dual-stack); "127.0.0.1" etc. */
    int port;      /* 0 = disabled */
};

struct host_config {
    char *domain;
    char *certificate; /* PEM file (absolute after load) */
    char *key;         /* PEM file (absolute after load) */
    /* Enabled module names, in order; NULL-terminated. Default: all. */
    char *modules[CONFIG_MAX_MODULES + 1];
    size_t nmodules;
};

/* Module options: `modules: { offline: { max_messages: 100 } }` at top level.
 * Kept as flat "module.key" = value strings; each module reads and bounds-
 * checks its own through config_module_int/str/bool at init. */
struct module_option {
    char *module;
    char *key;
    char *value;
    int line;
    bool used; /* set by config_module_* lookups */
};

struct config {
    char *path;    /* the file loaded */
    char *dir;     /* its directory */
    char *log_level;
    int workers;   /* 0 = number of cores */
    struct host_config hosts[CONFIG_MAX_HOSTS];
    size_t nhosts;

    struct listen_config c2s, c2s_tls, s2s, http, https, component;

    char *store_backend; /* "sqlite" */
    char *store_path;    /* absolute after load */

    /* c2s */
    bool require_encryption;   /* STARTTLS before auth (default true) */
    bool allow_plain;          /* SASL PLAIN over TLS (default true) */
    char *client_ca;           /* CAs for client certificates (SASL EXTERNAL), NULL = off */
    unsigned sm_resume_timeout; /* XEP-0198: seconds a lost session waits (0 = no resumption) */
    unsigned sm_max_queue;      /* XEP-0198: unacknowledged stanzas kept per session */
    char *tls_min_version;     /* "1.2" or "1.3" */
    char *tls_ciphers;         /* OpenSSL cipher list for TLS 1.2, NULL = default */

    /* limits (see src/core/limits.h for defaults and bounds) */
    size_t max_stanza_size;
    unsigned max_depth;
    unsigned max_attrs;
    unsigned handshake_timeout; /* seconds to complete auth + bind */
    unsigned idle_timeout;      /* seconds without any input before ping */
    unsigned ping_timeout;      /* seconds to answer the server's ping */
    unsigned max_sessions_per_user;
    unsigned auth_fail_per_ip;      /* failures in auth_fail_window before throttle */
    unsigned auth_fail_per_account;
    unsigned auth_fail_window;      /* seconds */
    unsigned rate_bytes_per_sec;    /* per-connection input rate (0 = off) */

    /* security labels (docs/security-labels.md) */
    char *security_policy;          /* Open XML SPIF file, NULL = labels off */
    char *security_audit_log;       /* append-only audit log, NULL = off */
    bool security_audit_deliveries; /* also audit every labelled delivery */
    bool security_certificate_clearance; /* SASL EXTERNAL: the certificate's clearance attribute sets the user's */
    bool security_label_unlabelled;      /* the server labels unlabelled messages with the default label */
    char *security_default_label;   /* classification name for unlabelled content, NULL = policy's lowest */
    char *security_binding_key;     /* PEM key to bind labels the server applies (STANAG 4778), NULL = off */
    char *security_binding_cert;    /* its PEM certificate */
    char *security_binding_ca;      /* CAs trusted to verify bindings, NULL = signature checked without chain */

    /* HTTP services (docs/http.md) */
    char *http_static_dir;          /* web client files; NULL = the built-in default */
    size_t http_max_body;           /* request body bytes (BOSH, other POSTs; not uploads) */
    char *http_metrics_token;       /* bearer token for /metrics, NULL = open */
    unsigned http_max_conns_per_ip; /* simultaneous HTTP connections per address and worker */
    unsigned http_max_header_size;  /* bytes of request headers */
    unsigned http_timeout;          /* seconds to send a request's headers / idle keep-alive */
    unsigned http_bosh_inactivity;  /* seconds without a request before a BOSH session ends */
    bool http_trust_loopback;       /* plain HTTP from loopback counts as encrypted (proxy) */

    struct module_option *module_options;
    size_t nmodule_options;
};

/* Load and validate. On error returns NULL and writes a message (with
 * file:line) into err. */
struct config *config_load(const char *path, char *err, size_t errlen);
void config_free(struct config *c);
const struct host_config *config_host(const struct config *c, const char *domain);
/* Module option lookups with defaults; out-of-range values are reported by
 * returning ALDIS_ECONFIG and writing "file:line: ..." into err. */
int config_module_int(const struct config *c, const char *module,
                      const char *key, long def, long min, long max,
                      long *out, char *err, size_t errlen);
int config_module_bool(const struct config *c, const char *module,
                       const char *key, bool def, bool *out, char *err,
                       size_t errlen);
const char *config_module_str(const struct config *c, const char *module,
                              const char *key, const char *def);
/* After every module's init: an option no module read is an error
 * ("file:line: unknown option 'x' for module 'y'"). Returns 0 or
 * ALDIS_ECONFIG. */
int config_check_unused(const struct config *c, char *err, size_t errlen);

#endif
