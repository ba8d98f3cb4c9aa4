/* aldisctl - the Aldis admin CLI: `init` makes a ready-to-run instance
 * (config, self-signed certificate, example security policy, database);
 * `user` manages accounts and their clearances directly in the store (SQLite
 * WAL lets it run beside the server); `policy check` validates a SPIF.
 * Exit status: 0 success, 1 error, 2 usage. docs/aldisctl.md, aldisctl(1). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "aldis/config.h"
#include "aldis/error.h"
#include "aldis/jid.h"
#include "aldis/label.h"
#include "aldis/log.h"
#include "aldis/module.h"
#include "aldis/store.h"
#include "core/config_template.h"
#include "core/modules.h"
#include "store/backend.h"
#include "store/backend_labels.h"

#ifndef ALDIS_VERSION
#define ALDIS_VERSION "0.1.0"
#endif

#define EXIT_USAGE 2
#define PASSWORD_MAX 1024
#define ITERATIONS_MAX 10000000L
#define CERT_DAYS 3652 /* ten years, leap days included */
#define CATEGORIES_MAX 32   /* --category options in one command */

/* The shipped example policy (policies/aldis-example-policy.xml), embedded
 * by CMake so that an installed aldisctl needs no source tree. */
extern const unsigned char aldis_example_policy[];
extern const size_t aldis_example_policy_len;

/* ---- messages ---------------------------------------------------------- */

__attribute__((format(printf, 1, 2))) static void say_error(const char *fmt, ...)
{
    va_list ap;
    fputs("aldisctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static const char usage_main[] =
    "usage: aldisctl [--config FILE] COMMAND [ARGS]\n"
    "\n"
    "Administer an Aldis XMPP server.\n"
    "\n"
    "Commands:\n"
    "  init --dir DIR --domain DOMAIN   create a ready-to-run instance in DIR\n"
    "  user add JID [PASSWORD]          create an account\n"
    "  user del JID                     delete an account and all its data\n"
    "  user passwd JID [PASSWORD]       change an account's password\n"
    "  user list [DOMAIN]               list accounts\n"
    "  user clearance JID --classification NAME [--category TAG=VALUE]...\n"
    "                                   set a user's security clearance\n"
    "  room clearance ROOM --classification NAME [--category TAG=VALUE]...\n"
    "                                   set a room's clearance (its ceiling)\n"
    "  domain clearance DOMAIN --classification NAME [--category TAG=VALUE]...\n"
    "                                   set a peer domain's clearance\n"
    "  policy check FILE                validate a security policy (SPIF)\n"
    "  policy cert-extension FILE --classification NAME [--category TAG=VALUE]...\n"
    "                                   the client-certificate extension carrying a\n"
    "                                   clearance (for SASL EXTERNAL logins)\n"
    "  check                            load and check the configuration\n"
    "\n"
    "Options:\n"
    "  --config FILE   the server configuration (default: $ALDIS_CONFIG, else\n"
    "                  ./aldis.yaml)\n"
    "  --help          help for aldisctl or for a command (aldisctl user --help)\n"
    "  --version       print the version\n";

static const char usage_init[] =
    "usage: aldisctl init --dir DIR --domain DOMAIN [--force]\n"
    "                     [--c2s-port N] [--c2s-tls-port N] [--s2s-port N]\n"
    "                     [--http-port N] [--https-port N] [--component-port N]\n"
    "\n"
    "Create DIR (if needed) with everything a server for DOMAIN needs:\n"
    "  DIR/aldis.yaml         the configuration, every setting commented\n"
    "  DIR/DOMAIN.crt, .key   a self-signed certificate (EC P-256, 10 years,\n"
    "                         for DOMAIN and *.DOMAIN) and its key (mode 0600)\n"
    "  DIR/policy.xml         the example security policy (UNCLASSIFIED to TOP\n"
    "                         SECRET); replace it with your own SPIF\n"
    "  DIR/aldis.db           an empty SQLite database (an existing one is kept)\n"
    "\n"
    "Ports default to 5222, 5223, 5269, 5280, 5281, 5347; 0 disables a listener.\n"
    "An existing aldis.yaml, certificate or key is never overwritten without\n"
    "--force.\n";

static const char usage_user[] =
    "usage: aldisctl [--config FILE] user add JID [PASSWORD | --password-stdin]\n"
    "                                         [--iterations N]\n"
    "       aldisctl [--config FILE] user passwd JID [PASSWORD | --password-stdin]\n"
    "                                         [--iterations N]\n"
    "       aldisctl [--config FILE] user del JID\n"
    "       aldisctl [--config FILE] user list [DOMAIN]\n"
    "\n"
    "JID is user@domain, where domain is one of the configured hosts. Without\n"
    "PASSWORD or --password-stdin the password is asked for on the terminal\n"
    "(twice, not echoed). A PASSWORD argument is visible to other local users\n"
    "in the process list: prefer the prompt or --password-stdin (first line).\n"
    "Only SCRAM-SHA-1 and SCRAM-SHA-256 keys are stored (RFC 5802), with\n"
    "--iterations PBKDF2 rounds (default 4096, at least 4096).\n"
    "'user del' removes the account with its roster, private data and\n"
    "offline messages.\n"
    "\n"
    "       aldisctl [--config FILE] user clearance JID --classification NAME\n"
    "                                         [--category TAG=VALUE]...\n"
    "       aldisctl [--config FILE] user clearance JID --show | --clear\n"
    "\n"
    "Set, show or remove the security clearance of JID under the configured\n"
    "policy (security.policy). A clearance for a classification covers it and\n"
    "every lower one; each --category adds one value of a category tag set\n"
    "(e.g. --category 'Releasable To=GBR'). A user with no clearance holds the\n"
    "policy's lowest classification only. The running server reads a changed\n"
    "clearance when the account is next loaded (restart to apply at once).\n";

static const char usage_room[] =
    "usage: aldisctl [--config FILE] room clearance ROOM --classification NAME\n"
    "                                         [--category TAG=VALUE]...\n"
    "       aldisctl [--config FILE] room clearance ROOM --show | --clear\n"
    "\n"
    "A room's clearance is its ceiling: joining needs a clearance covering it\n"
    "and messages labelled above it are refused. ROOM is room@service.\n";

static const char usage_domain[] =
    "usage: aldisctl [--config FILE] domain clearance DOMAIN --classification NAME\n"
    "                                         [--category TAG=VALUE]...\n"
    "       aldisctl [--config FILE] domain clearance DOMAIN --show | --clear\n"
    "\n"
    "A peer domain's clearance bounds what may be sent to it (other servers,\n"
    "later components): a stanza labelled above it is refused with an error\n"
    "to the sender. A domain with none is cleared for the lowest\n"
    "classification only. Read by the server at startup.\n";

static const char usage_policy[] =
    "usage: aldisctl policy check FILE\n"
    "       aldisctl policy cert-extension FILE --classification NAME [--category TAG=VALUE]...\n"
    "\n"
    "check: load an Open XML SPIF security policy and print its summary:\n"
    "classifications with levels and colours, category tag sets, equivalent\n"
    "policies. Exit status 1 with the error when the file is not valid.\n"
    "\n"
    "cert-extension: print the subjectDirectoryAttributes extension (RFC 5280\n"
    "4.2.1.8, OID 2.5.29.9) carrying this clearance as an RFC 5755 clearance\n"
    "attribute, as a line for an openssl extensions file. A client certificate\n"
    "with it gives its user this clearance at SASL EXTERNAL login when the\n"
    "server has security.certificate_clearance on.\n";

static const char usage_check[] =
    "usage: aldisctl [--config FILE] check\n"
    "\n"
    "Load the configuration, report the first problem as FILE:LINE: message,\n"
    "and open the database (migrating its schema if needed).\n";

/* ---- command line ------------------------------------------------------ */

struct args {
    const char *config;
    const char *dir;
    const char *domain;
    int ports[CONFIG_PORT_COUNT];
    bool port_set[CONFIG_PORT_COUNT];
    bool force;
    bool password_stdin;
    long iterations;
    bool help;
    bool version;
    const char *classification;
    const char *categories[CATEGORIES_MAX];
    size_t ncategories;
    bool show, clear;
    const char *pos[8];
    size_t npos;
    /* options given, for "not valid with this command" checks */
    bool used_init_opts, used_user_opts, used_clearance_opts;
};

static const char *const port_opts[CONFIG_PORT_COUNT] = {
    "--c2s-port", "--c2s-tls-port", "--s2s-port",
    "--http-port", "--https-port", "--component-port"};

static int parse_long_arg(const char *opt, const char *v, long min, long max,
                          long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (!*v || *end || errno || n < min || n > max) {
        say_error("%s needs a number from %ld to %ld, not '%s'", opt, min, max, v);
        return EXIT_USAGE;
    }
    *out = n;
    return 0;
}

/* Options may come anywhere; "--opt VALUE" and "--opt=VALUE" both work;
 * "--" ends options (for a password starting with '-'). */
static int args_parse(int argc, char **argv, struct args *a)
{
    bool options = true;
    memcpy(a->ports, config_default_ports, sizeof a->ports);
    a->iterations = SCRAM_ITERATIONS_DEFAULT;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!options || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (a->npos == sizeof a->pos / sizeof a->pos[0]) {
                say_error("too many arguments");
                return EXIT_USAGE;
            }
            a->pos[a->npos++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            options = false;
            continue;
        }
        char name[64];
        const char *eq = strchr(arg, '=');
        const char *value = NULL;
        size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        if (nlen >= sizeof name)
            nlen = sizeof name - 1;
        memcpy(name, arg, nlen);
        name[nlen] = '\0';

        if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
            a->help = true;
            continue;
        }
        if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
            a->version = true;
            continue;
        }
        if (!strcmp(name, "--force")) {
            a->force = true;
            a->used_init_opts = true;
            continue;
        }
        if (!strcmp(name, "--show") || !strcmp(name, "--clear")) {
            if (name[2] == 's')
                a->show = true;
            else
                a->clear = true;
            a->used_clearance_opts = true;
            continue;
        }
        if (!strcmp(name, "--password-stdin")) {
            a->password_stdin = true;
            a->used_user_opts = true;
            continue;
        }
        /* The rest take a value. */
        bool known = !strcmp(name, "--config") || !strcmp(name, "--dir") ||
                     !strcmp(name, "--domain") || !strcmp(name, "--iterations") ||
                     !strcmp(name, "--classification") || !strcmp(name, "--category");
        int port_idx = -1;
        for (int p = 0; p < CONFIG_PORT_COUNT; p++)
            if (!strcmp(name, port_opts[p]))
                port_idx = p;
        if (!known && port_idx < 0) {
            say_error("unknown option '%s' (see aldisctl --help)", name);
            return EXIT_USAGE;
        }
        if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            say_error("%s needs a value", name);
            return EXIT_USAGE;
        }
        if (!strcmp(name, "--config")) {
            a->config = value;
        } else if (!strcmp(name, "--dir")) {
            a->dir = value;
            a->used_init_opts = true;
        } else if (!strcmp(name, "--domain")) {
            a->domain = value;
            a->used_init_opts = true;
        } else if (!strcmp(name, "--classification")) {
            a->classification = value;
            a->used_clearance_opts = true;
        } else if (!strcmp(name, "--category")) {
            if (a->ncategories == CATEGORIES_MAX) {
                say_error("at most %d --category options", CATEGORIES_MAX);
                return EXIT_USAGE;
            }
            a->categories[a->ncategories++] = value;
            a->used_clearance_opts = true;
        } else if (!strcmp(name, "--iterations")) {
            a->used_user_opts = true;
            if (parse_long_arg(name, value, SCRAM_ITERATIONS_DEFAULT, ITERATIONS_MAX,
                               &a->iterations))
                return EXIT_USAGE;
        } else {
            long port;
            a->used_init_opts = true;
            if (parse_long_arg(name, value, 0, 65535, &port))
                return EXIT_USAGE;
            a->ports[port_idx] = (int)port;
            a->port_set[port_idx] = true;
        }
    }
    return 0;
}

/* ---- init --------------------------------------------------------------- */

static void openssl_error(const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "unknown error";
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    say_error("%s: %s", what, buf);
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* mkdir -p, mode 0750 for what we create (the key lives there). */
static int mkdir_p(const char *dir)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = path + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(path, 0750) != 0 && errno != EEXIST)
                return -1;
            *p = saved;
            if (!saved)
                break;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static int add_ext(X509 *cert, int nid, const char *value)
{
    X509V3_CTX ctx;
    /* Self-signed: the certificate is its own issuer (for the key ids). */
    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* Write a PEM object to a new file with `mode` (the key must never exist,
 * even briefly, with wider permissions). */
static FILE *open_private(const char *path, mode_t mode)
{
    unlink(path); /* --force: a fresh inode, so the mode below applies */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return NULL;
    if (fchmod(fd, mode) != 0) {
        close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "w");
    if (!f)
        close(fd);
    return f;
}

/* A self-signed server certificate for `domain`: EC P-256, SHA-256, ten
 * years, SAN DNS:domain and DNS:*.domain (plus loopback IPs for localhost).
 * It is CA:FALSE with serverAuth+clientAuth (S2S uses it as a client too)
 * and no keyUsage, so OpenSSL accepts it as its own trust anchor. */
static int cert_make(const char *domain, const char *crt_path, const char *key_path)
{
    EVP_PKEY *pkey = NULL;
    X509 *cert = NULL;
    BIGNUM *serial = NULL;
    FILE *f = NULL;
    int rc = 1;
    char san[600];

    if (!(pkey = EVP_EC_gen("P-256"))) {
        openssl_error("cannot generate an EC key");
        goto out;
    }
    if (!(cert = X509_new()) || !X509_set_version(cert, X509_VERSION_3)) {
        openssl_error("cannot create the certificate");
        goto out;
    }
    /* RFC 5280 §4.1.2.2: a positive serial of at most 20 octets; 159 random
     * bits make it unique without bookkeeping. */
    if (!(serial = BN_new()) || !BN_rand(serial, 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
        !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert))) {
        openssl_error("cannot make a serial number");
        goto out;
    }
    /* Back-date by an hour so a peer with a slightly slow clock accepts it. */
    if (!X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
        !X509_time_adj_ex(X509_getm_notAfter(cert), CERT_DAYS, 0, NULL) ||
        !X509_set_pubkey(cert, pkey)) {
        openssl_error("cannot fill in the certificate");
        goto out;
    }
    X509_NAME *name = X509_get_subject_name(cert);
    if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                    (const unsigned char *)"Aldis self-signed", -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                    (const unsigned char *)domain, -1, -1, 0) ||
        !X509_set_issuer_name(cert, name)) {
        openssl_error("cannot set the certificate name");
        goto out;
    }
    if (strcmp(domain, "localhost") == 0)
        snprintf(san, sizeof san, "DNS:%s,DNS:*.%s,IP:127.0.0.1,IP:::1", domain, domain);
    else
        snprintf(san, sizeof san, "DNS:%s,DNS:*.%s", domain, domain);
    if (add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") ||
        add_ext(cert, NID_ext_key_usage, "serverAuth,clientAuth") ||
        add_ext(cert, NID_subject_alt_name, san) ||
        add_ext(cert, NID_subject_key_identifier, "hash")) {
        openssl_error("cannot add certificate extensions");
        goto out;
    }
    if (!X509_sign(cert, pkey, EVP_sha256())) {
        openssl_error("cannot sign the certificate");
        goto out;
    }

    if (!(f = open_private(key_path, 0600)) ||
        !PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL)) {
        say_error("cannot write %s: %s", key_path, strerror(errno));
        goto out;
    }
    if (fclose(f) != 0) {
        f = NULL;
        say_error("cannot write %s: %s", key_path, strerror(errno));
        goto out;
    }
    if (!(f = open_private(crt_path, 0644)) || !PEM_write_X509(f, cert)) {
        say_error("cannot write %s: %s", crt_path, strerror(errno));
        goto out;
    }
    rc = fclose(f) == 0 ? 0 : 1;
    f = NULL;
    if (rc)
        say_error("cannot write %s: %s", crt_path, strerror(errno));
out:
    if (f)
        fclose(f);
    BN_free(serial);
    X509_free(cert);
    EVP_PKEY_free(pkey);
    return rc;
}

/* The domain as the config will hold it, restricted to what a certificate
 * can name: ASCII letters, digits, '-' and '.' (IDNs: give the xn-- form). */
static int init_domain(const char *in, char *out)
{
    if (jid_domainprep(in, out) != 0)
        goto bad;
    size_t len = strlen(out);
    /* Labels are non-empty and neither start nor end with '-'. */
    if (out[0] == '.' || out[0] == '-' || out[len - 1] == '-' || strstr(out, "..") ||
        strstr(out, "-.") || strstr(out, ".-"))
        goto bad;
    for (const char *p = out; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
              *p == '.'))
            goto bad;
    if (strspn(out, "0123456789.") == strlen(out))
        goto bad;
    return 0;
bad:
    say_error("'%s' is not a domain name this tool can make a certificate for "
              "(letters, digits, '-' and '.'; for an IDN give its xn-- form)",
              in);
    return EXIT_USAGE;
}

/* Write the embedded example policy, checking first that it parses. */
static int policy_write(const char *path)
{
    char why[256] = "";
    struct label_policy *p = NULL;
    if (aldis_example_policy_len == 0) {
        /* Only a build from a tree without policies/ gets here: say so,
         * and let the operator put their own SPIF in place. */
        say_error("warning: this aldisctl was built without the example policy; put a "
                  "SPIF policy at %s before starting the server", path);
        return 0;
    }
    if (label_policy_parse((const char *)aldis_example_policy, aldis_example_policy_len, &p, why,
                           sizeof why) != 0) {
        say_error("the embedded example policy does not load (a bug): %s", why);
        return 1;
    }
    label_policy_free(p);
    FILE *f = fopen(path, "w");
    if (!f || fwrite(aldis_example_policy, 1, aldis_example_policy_len, f) !=
                  aldis_example_policy_len) {
        say_error("cannot write %s: %s", path, strerror(errno));
        if (f)
            fclose(f);
        return 1;
    }
    if (fclose(f) != 0) {
        say_error("cannot write %s: %s", path, strerror(errno));
        return 1;
    }
    return 0;
}

static int cmd_init(struct args *a)
{
    char domain[JID_PART_MAX + 1];
    char dir[PATH_MAX], yaml[PATH_MAX + 32], crt[PATH_MAX + JID_PART_MAX + 8],
        key[PATH_MAX + JID_PART_MAX + 8], db[PATH_MAX + 32];
    char err[1024];
    const char *names[128];
    size_t nnames = 0;
    int rc;

    if (a->help) {
        fputs(usage_init, stdout);
        return 0;
    }
    if (a->used_user_opts || a->npos != 1 || !a->dir || !a->domain) {
        say_error("init needs --dir DIR and --domain DOMAIN (and no other arguments)");
        fputs(usage_init, stderr);
        return EXIT_USAGE;
    }
    if ((rc = init_domain(a->domain, domain)) != 0)
        return rc;
    if (mkdir_p(a->dir) != 0) {
        say_error("cannot create directory %s: %s", a->dir, strerror(errno));
        return 1;
    }
    if (!realpath(a->dir, dir)) {
        say_error("cannot resolve %s: %s", a->dir, strerror(errno));
        return 1;
    }
    snprintf(yaml, sizeof yaml, "%s/aldis.yaml", dir);
    snprintf(crt, sizeof crt, "%s/%s.crt", dir, domain);
    snprintf(key, sizeof key, "%s/%s.key", dir, domain);
    snprintf(db, sizeof db, "%s/aldis.db", dir);

    if (!a->force) {
        const char *existing[] = {yaml, crt, key};
        bool any = false;
        for (size_t i = 0; i < 3; i++)
            if (file_exists(existing[i])) {
                say_error("%s already exists", existing[i]);
                any = true;
            }
        if (any) {
            say_error("nothing was changed; use --force to overwrite (the "
                      "database is always kept)");
            return 1;
        }
    }

    for (size_t i = 0; modules_builtin[i] && nnames + 1 < sizeof names / sizeof names[0]; i++)
        names[nnames++] = modules_builtin[i]->name;
    names[nnames] = NULL;
    /* Certificate first: if that fails, no aldis.yaml is left behind to
     * make the next attempt need --force. */
    if (cert_make(domain, crt, key) != 0)
        return 1;

    /* The example policy the template's security.policy names: written
     * before aldis.yaml is loaded below, so that load checks it too. An
     * existing one is the operator's own and is kept. */
    char policy[PATH_MAX + 32];
    snprintf(policy, sizeof policy, "%s/policy.xml", dir);
    bool policy_existed = file_exists(policy);
    if (!policy_existed && policy_write(policy) != 0)
        return 1;

    char *text = config_template(domain, a->ports, names);
    FILE *f = fopen(yaml, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        say_error("cannot write %s: %s", yaml, strerror(errno));
        free(text);
        return 1;
    }
    free(text);

    bool db_existed = file_exists(db);
    struct store_backend *b = backend_open("sqlite", db, err, sizeof err);
    if (!b) {
        say_error("%s", err);
        return 1;
    }
    backend_close(b);

    /* What we wrote must load: catch a template/parser mismatch here rather
     * than at the admin's first start. */
    struct config *c = config_load(yaml, err, sizeof err);
    if (!c) {
        say_error("the generated configuration does not load (a bug): %s", err);
        return 1;
    }
    config_free(c);

    printf("Created an Aldis instance for %s in %s:\n", domain, dir);
    printf("  %-12s %s\n", "config", yaml);
    printf("  %-12s %s (self-signed, valid %d years)\n", "certificate", crt, CERT_DAYS / 365);
    printf("  %-12s %s (mode 0600)\n", "key", key);
    printf("  %-12s %s%s\n", "policy", policy, policy_existed ? " (existing, kept)" : "");
    printf("  %-12s %s%s\n", "database", db, db_existed ? " (existing, kept)" : "");
    printf("\nNext, add a user and start the server:\n");
    printf("  aldisctl --config %s user add admin@%s\n", yaml, domain);
    printf("  aldis --config %s\n", yaml);
    return 0;
}

/* ---- users ------------------------------------------------------------ */

struct instance {
    struct config *cfg;
    struct store_backend *b;
};

static int instance_open(const struct args *a, struct instance *in)
{
    char err[1024];
    const char *path = a->config ? a->config : getenv("ALDIS_CONFIG");
    if (!path || !*path)
        path = "aldis.yaml";
    in->b = NULL;
    if (!(in->cfg = config_load(path, err, sizeof err))) {
        say_error("%s", err);
        if (!file_exists(path))
            say_error("give the configuration with --config FILE, or create one "
                      "with 'aldisctl init --dir DIR --domain DOMAIN'");
        return 1;
    }
    in->b = backend_open(in->cfg->store_backend, in->cfg->store_path, err, sizeof err);
    if (!in->b) {
        say_error("%s", err);
        config_free(in->cfg);
        in->cfg = NULL;
        return 1;
    }
    return 0;
}

static void instance_close(struct instance *in)
{
    backend_close(in->b);
    config_free(in->cfg);
}

/* JID -> (user, host); the host must be one this server serves. */
static int account_parse(const struct config *cfg, const char *s, struct jid *j)
{
    if (jid_parse(s, j) != 0 || !j->local || j->resource) {
        say_error("'%s' is not a valid account JID; write it as user@domain", s);
        return EXIT_USAGE;
    }
    if (!config_host(cfg, j->domain)) {
        say_error("%s is not a host of this server (%s); hosts are listed under "
                  "'hosts:' in the configuration",
                  j->domain, cfg->path);
        return 1;
    }
    return 0;
}

static void strip_newline(char *s)
{
    s[strcspn(s, "\r\n")] = '\0';
}

static int read_line_noecho(const char *prompt, char *buf, size_t size)
{
    struct termios old, quiet;
    int rc = 0;
    fputs(prompt, stderr);
    fflush(stderr);
    bool restore = tcgetattr(STDIN_FILENO, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= (tcflag_t) ~(ECHO | ECHONL);
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    if (!fgets(buf, (int)size, stdin))
        rc = -1;
    if (restore)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fputc('\n', stderr);
    if (rc == 0)
        strip_newline(buf);
    return rc;
}

/* The password from the argument, stdin, or a no-echo prompt. */
static int password_get(const struct args *a, const char *arg, char *buf, size_t size)
{
    if (arg && a->password_stdin) {
        say_error("give the password either as an argument or with "
                  "--password-stdin, not both");
        return EXIT_USAGE;
    }
    if (arg) {
        if (strlen(arg) >= size) {
            say_error("the password is too long (at most %zu bytes)", size - 1);
            return 1;
        }
        snprintf(buf, size, "%s", arg);
        return 0;
    }
    if (a->password_stdin) {
        if (!fgets(buf, (int)size, stdin)) {
            say_error("no password on standard input");
            return 1;
        }
        strip_newline(buf);
        return 0;
    }
    if (!isatty(STDIN_FILENO)) {
        say_error("no password given: pass it as an argument, or use "
                  "--password-stdin, or run on a terminal to be asked");
        return EXIT_USAGE;
    }
    char again[PASSWORD_MAX];
    if (read_line_noecho("Password: ", buf, size) != 0 ||
        read_line_noecho("Password (again): ", again, sizeof again) != 0) {
        say_error("no password entered");
        return 1;
    }
    bool same = strcmp(buf, again) == 0;
    OPENSSL_cleanse(again, sizeof again);
    if (!same) {
        say_error("the passwords do not match; nothing was changed");
        return 1;
    }
    return 0;
}

static int store_error(struct instance *in, int err, const char *what)
{
    if (err == ALDIS_ESTORE)
        say_error("%s: database error: %s", what, backend_last_error(in->b));
    else
        say_error("%s: %s", what, aldis_strerror(err));
    return 1;
}

static int user_set_password(const struct args *a, bool create)
{
    struct instance in;
    struct jid j;
    struct scram_keys keys;
    char password[PASSWORD_MAX];
    int rc;

    size_t want = 3; /* user add JID [PASSWORD] */
    if (a->npos < want || a->npos > want + 1) {
        say_error("user %s needs JID and, optionally, PASSWORD", create ? "add" : "passwd");
        return EXIT_USAGE;
    }
    if ((rc = instance_open(a, &in)) != 0)
        return rc;
    if ((rc = account_parse(in.cfg, a->pos[2], &j)) != 0)
        goto out;
    if (create) {
        /* Fail before asking for a password the admin would type in vain. */
        rc = backend_user_get(in.b, j.domain, j.local, &keys);
        OPENSSL_cleanse(&keys, sizeof keys);
        if (rc == 0) {
            say_error("user %s@%s already exists; to change the password use "
                      "'aldisctl user passwd %s@%s'",
                      j.local, j.domain, j.local, j.domain);
            rc = 1;
            goto out;
        }
    } else {
        rc = backend_user_get(in.b, j.domain, j.local, &keys);
        OPENSSL_cleanse(&keys, sizeof keys);
        if (rc == ALDIS_ENOTFOUND) {
            say_error("there is no user %s@%s; to create it use 'aldisctl user add "
                      "%s@%s'",
                      j.local, j.domain, j.local, j.domain);
            rc = 1;
            goto out;
        }
    }
    if (rc != 0 && rc != ALDIS_ENOTFOUND) {
        rc = store_error(&in, rc, "cannot read the account");
        goto out;
    }
    if ((rc = password_get(a, a->npos > want ? a->pos[want] : NULL, password,
                           sizeof password)) != 0)
        goto out;
    rc = scram_keys_derive(password, (unsigned)a->iterations, &keys);
    OPENSSL_cleanse(password, sizeof password);
    if (rc != 0) {
        say_error("this password cannot be used: it is empty or has characters "
                  "SASLprep (RFC 4013) forbids, such as control characters");
        rc = 1;
        goto out;
    }
    rc = backend_user_put(in.b, j.domain, j.local, &keys,
                          create ? BACKEND_PUT_CREATE : BACKEND_PUT_REPLACE);
    OPENSSL_cleanse(&keys, sizeof keys);
    if (rc == ALDIS_EEXIST) {
        say_error("user %s@%s already exists", j.local, j.domain);
        rc = 1;
    } else if (rc == ALDIS_ENOTFOUND) {
        say_error("there is no user %s@%s (deleted meanwhile?)", j.local, j.domain);
        rc = 1;
    } else if (rc != 0) {
        rc = store_error(&in, rc, "cannot save the account");
    } else {
        printf("%s %s@%s\n", create ? "Created" : "Changed the password of", j.local,
               j.domain);
    }
out:
    instance_close(&in);
    return rc;
}

static int user_del(const struct args *a)
{
    struct instance in;
    struct jid j;
    int rc;
    if (a->npos != 3 || a->used_user_opts) {
        say_error("user del needs exactly one JID");
        return EXIT_USAGE;
    }
    if ((rc = instance_open(a, &in)) != 0)
        return rc;
    if ((rc = account_parse(in.cfg, a->pos[2], &j)) != 0)
        goto out;
    rc = backend_user_del(in.b, j.domain, j.local);
    if (rc == ALDIS_ENOTFOUND) {
        say_error("there is no user %s@%s", j.local, j.domain);
        rc = 1;
    } else if (rc != 0) {
        rc = store_error(&in, rc, "cannot delete the account");
    } else {
        printf("Deleted %s@%s and all its data\n", j.local, j.domain);
    }
out:
    instance_close(&in);
    return rc;
}

static int list_print(void *ud, const char *host, const char *user)
{
    size_t *count = ud;
    (*count)++;
    return printf("%s@%s\n", user, host) < 0 ? ALDIS_EIO : 0;
}

static int user_list(const struct args *a)
{
    struct instance in;
    const char *host = NULL;
    char domain[JID_PART_MAX + 1];
    size_t count = 0;
    int rc;
    if (a->npos > 3 || a->used_user_opts) {
        say_error("user list takes at most one DOMAIN");
        return EXIT_USAGE;
    }
    if ((rc = instance_open(a, &in)) != 0)
        return rc;
    if (a->npos == 3) {
        if (jid_domainprep(a->pos[2], domain) != 0 || !config_host(in.cfg, domain)) {
            say_error("%s is not a host of this server (%s)", a->pos[2], in.cfg->path);
            rc = 1;
            goto out;
        }
        host = domain;
    }
    rc = backend_user_list(in.b, host, list_print, &count);
    if (rc != 0)
        rc = store_error(&in, rc, "cannot list accounts");
out:
    instance_close(&in);
    return rc;
}

/* ---- clearances and policies ------------------------------------------- */

/* The configured policy, or an error saying labels are off. */
static int policy_open(const struct instance *in, struct label_policy **p)
{
    char why[256] = "";
    if (!in->cfg->security_policy) {
        say_error("%s has no security.policy: labels are off, so there are no "
                  "clearances to set", in->cfg->path);
        return 1;
    }
    if (label_policy_load(in->cfg->security_policy, p, why, sizeof why) != 0) {
        say_error("security policy: %s", why);
        return 1;
    }
    return 0;
}

/* "CLASS;TAG=V1,V2;TAG2=V3" from --classification and the --category
 * options, grouping the values of one tag set (clearance_parse's form). */
static int clearance_text(const struct args *a, struct buf *out)
{
    bool done[CATEGORIES_MAX] = {false};
    buf_adds(out, a->classification);
    for (size_t i = 0; i < a->ncategories; i++) {
        const char *eq = strchr(a->categories[i], '=');
        if (!eq || eq == a->categories[i] || !eq[1] || strchr(a->categories[i], ';')) {
            say_error("--category needs TAG=VALUE, not '%s'", a->categories[i]);
            return EXIT_USAGE;
        }
    }
    for (size_t i = 0; i < a->ncategories; i++) {
        if (done[i])
            continue;
        size_t tlen = (size_t)(strchr(a->categories[i], '=') - a->categories[i]);
        buf_addc(out, ';');
        buf_add(out, a->categories[i], tlen + 1);
        buf_adds(out, a->categories[i] + tlen + 1);
        for (size_t j = i + 1; j < a->ncategories; j++)
            if (!done[j] && strncmp(a->categories[j], a->categories[i], tlen + 1) == 0) {
                buf_addc(out, ',');
                buf_adds(out, a->categories[j] + tlen + 1);
                done[j] = true;
            }
    }
    return 0;
}

/* user clearance JID ... / room clearance ROOM ... */
enum clearance_subject { SUBJECT_USER, SUBJECT_ROOM, SUBJECT_DOMAIN };

static int clearance_cmd(const struct args *a, enum clearance_subject kind)
{
    static const char *const kind_name[] = {"user", "room", "domain"};
    static const char *const kind_arg[] = {"JID", "ROOM", "DOMAIN"};
    struct instance in;
    struct label_policy *p = NULL;
    struct clearance *c = NULL;
    struct jid j;
    struct buf text, norm;
    char subject[JID_STR_MAX], why[256] = "";
    int rc;
    buf_init(&text);
    buf_init(&norm);
    int modes = (a->classification != NULL) + a->show + a->clear;
    if (a->npos != 3 || modes != 1 || a->used_user_opts ||
        (a->ncategories && !a->classification)) {
        say_error("%s clearance needs %s and exactly one of --classification NAME, --show, "
                  "--clear (--category only with --classification)",
                  kind_name[kind], kind_arg[kind]);
        return EXIT_USAGE;
    }
    if ((rc = instance_open(a, &in)) != 0)
        return rc;
    if (kind == SUBJECT_ROOM) {
        if (jid_parse(a->pos[2], &j) != 0 || !j.local || j.resource) {
            say_error("'%s' is not a valid room JID; write it as room@service", a->pos[2]);
            rc = EXIT_USAGE;
            goto out;
        }
    } else if (kind == SUBJECT_DOMAIN) {
        if (jid_parse(a->pos[2], &j) != 0 || j.local || j.resource) {
            say_error("'%s' is not a domain name", a->pos[2]);
            rc = EXIT_USAGE;
            goto out;
        }
    } else if ((rc = account_parse(in.cfg, a->pos[2], &j)) != 0) {
        goto out;
    }
    jid_bare(&j, subject, sizeof subject);
    if ((rc = policy_open(&in, &p)) != 0)
        goto out;
    if (a->show) {
        char *stored = NULL;
        rc = backend_labels_get(in.b, subject, &stored);
        if (rc == ALDIS_ENOTFOUND)
            printf("%s: no clearance set (holds %s only)\n", subject, label_policy_lowest(p));
        else if (rc == 0)
            printf("%s: %s\n", subject, stored);
        else
            rc = store_error(&in, rc, "cannot read the clearance");
        free(stored);
        rc = rc == ALDIS_ENOTFOUND ? 0 : rc;
        goto out;
    }
    if (a->clear) {
        rc = backend_labels_del(in.b, subject);
        if (rc == 0 || rc == ALDIS_ENOTFOUND)
            printf("%s: clearance removed (holds %s only)\n", subject, label_policy_lowest(p));
        else
            rc = store_error(&in, rc, "cannot remove the clearance");
        rc = rc == ALDIS_ENOTFOUND ? 0 : rc;
        goto out;
    }
    if ((rc = clearance_text(a, &text)) != 0)
        goto out;
    if (clearance_parse(p, buf_cstr(&text), &c, why, sizeof why) != 0) {
        say_error("not a clearance under policy %s: %s", label_policy_name(p), why);
        rc = 1;
        goto out;
    }
    if (clearance_format(p, c, &norm) != 0 || norm.len > LABELS_CLEARANCE_MAX) {
        say_error("the clearance is too large to store");
        rc = 1;
        goto out;
    }
    rc = backend_labels_put(in.b, subject, buf_cstr(&norm));
    if (rc != 0)
        rc = store_error(&in, rc, "cannot save the clearance");
    else
        printf("%s: clearance set to %s\n", subject, buf_cstr(&norm));
out:
    clearance_free(c);
    label_policy_free(p);
    buf_free(&text);
    buf_free(&norm);
    instance_close(&in);
    return rc;
}

static int cmd_room(struct args *a)
{
    if (a->help) {
        fputs(usage_room, stdout);
        return 0;
    }
    if (a->used_init_opts) {
        say_error("init options are not valid with 'room'");
        return EXIT_USAGE;
    }
    if (a->npos >= 2 && strcmp(a->pos[1], "clearance") == 0)
        return clearance_cmd(a, SUBJECT_ROOM);
    fputs(usage_room, stderr);
    return EXIT_USAGE;
}

/* policy cert-extension FILE --classification NAME [--category TAG=VALUE]... */
static int policy_cert_extension(const struct args *a)
{
    char why[512] = "";
    struct label_policy *p = NULL;
    struct clearance *c = NULL;
    unsigned char *der = NULL;
    size_t len = 0;
    struct buf text;
    buf_init(&text);
    int rc = 1;
    if (label_policy_load(a->pos[2], &p, why, sizeof why) != 0) {
        say_error("%s", why[0] ? why : "not a valid security policy");
        goto out;
    }
    if ((rc = clearance_text(a, &text)) != 0)
        goto out;
    rc = 1;
    if (clearance_parse(p, buf_cstr(&text), &c, why, sizeof why) != 0) {
        say_error("not a clearance under policy %s: %s", label_policy_name(p), why);
        goto out;
    }
    if (clearance_to_extension_der(c, &der, &len) != 0) {
        say_error("cannot encode the clearance");
        goto out;
    }
    printf("2.5.29.9=DER:");
    for (size_t i = 0; i < len; i++)
        printf("%02X%s", der[i], i + 1 < len ? ":" : "\n");
    rc = 0;
out:
    free(der);
    clearance_free(c);
    label_policy_free(p);
    buf_free(&text);
    return rc;
}

static int cmd_domain(struct args *a)
{
    if (a->help) {
        fputs(usage_domain, stdout);
        return 0;
    }
    if (a->used_init_opts) {
        say_error("init options are not valid with 'domain'");
        return EXIT_USAGE;
    }
    if (a->npos >= 2 && strcmp(a->pos[1], "clearance") == 0)
        return clearance_cmd(a, SUBJECT_DOMAIN);
    fputs(usage_domain, stderr);
    return EXIT_USAGE;
}

static int cmd_policy(struct args *a)
{
    char why[512] = "";
    struct label_policy *p = NULL;
    if (a->help) {
        fputs(usage_policy, stdout);
        return 0;
    }
    if (a->npos == 3 && strcmp(a->pos[1], "cert-extension") == 0 && a->classification &&
        !a->show && !a->clear && !a->used_init_opts && !a->used_user_opts)
        return policy_cert_extension(a);
    if (a->npos != 3 || strcmp(a->pos[1], "check") != 0 || a->used_init_opts ||
        a->used_user_opts || a->used_clearance_opts) {
        fputs(usage_policy, stderr);
        return EXIT_USAGE;
    }
    if (label_policy_load(a->pos[2], &p, why, sizeof why) != 0) {
        /* the library's message already names the file and line */
        if (why[0])
            say_error("%s", why);
        else
            say_error("%s: not a valid security policy", a->pos[2]);
        return 1;
    }
    printf("%s: valid security policy\n", a->pos[2]);
    label_policy_summary(p, stdout);
    label_policy_free(p);
    return 0;
}

static int cmd_user(struct args *a)
{
    if (a->help) {
        fputs(usage_user, stdout);
        return 0;
    }
    if (a->used_init_opts) {
        say_error("init options are not valid with 'user'");
        return EXIT_USAGE;
    }
    const char *sub = a->npos >= 2 ? a->pos[1] : NULL;
    if (a->used_clearance_opts && !(sub && strcmp(sub, "clearance") == 0)) {
        say_error("--classification, --category, --show and --clear are only for "
                  "'user clearance'");
        return EXIT_USAGE;
    }
    if (sub && strcmp(sub, "add") == 0)
        return user_set_password(a, true);
    if (sub && strcmp(sub, "passwd") == 0)
        return user_set_password(a, false);
    if (sub && strcmp(sub, "del") == 0)
        return user_del(a);
    if (sub && strcmp(sub, "list") == 0)
        return user_list(a);
    if (sub && strcmp(sub, "clearance") == 0)
        return clearance_cmd(a, SUBJECT_USER);
    if (sub)
        say_error("unknown user command '%s'", sub);
    fputs(usage_user, stderr);
    return EXIT_USAGE;
}

static int cmd_check(struct args *a)
{
    struct instance in;
    int version = 0, rc;
    if (a->help) {
        fputs(usage_check, stdout);
        return 0;
    }
    if (a->npos != 1 || a->used_init_opts || a->used_user_opts) {
        say_error("check takes no arguments");
        return EXIT_USAGE;
    }
    if ((rc = instance_open(a, &in)) != 0)
        return rc;
    if (backend_schema_version(in.b, &version) != 0)
        rc = store_error(&in, ALDIS_ESTORE, "cannot read the schema version");
    else
        printf("%s: OK (%zu host%s, %s database %s, schema version %d)\n",
               in.cfg->path, in.cfg->nhosts, in.cfg->nhosts == 1 ? "" : "s",
               in.cfg->store_backend, in.cfg->store_path, version);
    instance_close(&in);
    return rc;
}

int main(int argc, char **argv)
{
    struct args a = {0};
    int rc;

    /* The store logs its own failures; aldisctl reports them itself, so
     * only errors from deeper down reach stderr as log lines. */
    log_threshold = LOG_ERROR;
    if ((rc = args_parse(argc, argv, &a)) != 0)
        return rc;
    if (a.version) {
        printf("aldisctl %s\n", ALDIS_VERSION);
        return 0;
    }
    if (a.npos == 0) {
        if (a.help) {
            fputs(usage_main, stdout);
            return 0;
        }
        fputs(usage_main, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = a.pos[0];
    if (strcmp(cmd, "init") == 0)
        return cmd_init(&a);
    if (strcmp(cmd, "user") == 0)
        return cmd_user(&a);
    if (strcmp(cmd, "check") == 0)
        return cmd_check(&a);
    if (strcmp(cmd, "room") == 0)
        return cmd_room(&a);
    if (strcmp(cmd, "domain") == 0)
        return cmd_domain(&a);
    if (strcmp(cmd, "policy") == 0)
        return cmd_policy(&a);
    if (strcmp(cmd, "help") == 0) {
        fputs(usage_main, stdout);
        return 0;
    }
    say_error("unknown command '%s'", cmd);
    fputs(usage_main, stderr);
    return EXIT_USAGE;
}
