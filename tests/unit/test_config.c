/* test_config.c - aldis.yaml loading (src/core/config.c): a full file, the
 * defaults, every kind of error with its line number, unknown keys in each
 * section, module options with config_check_unused, and the `aldisctl init`
 * template (src/core/config_template.c) loading cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aldis/config.h"
#include "aldis/error.h"
#include "core/config_template.h"

static char dir[256];
static char file[300];
static char err[1024];

static int group_setup(void **state)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/aldis-test-config-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return -1;
    snprintf(file, sizeof file, "%s/aldis.yaml", dir);
    return 0;
}

static void touch(const char *name)
{
    char p[400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
}

static int group_teardown(void **state)
{
    static const char *const names[] = {"aldis.yaml", "a.crt", "a.key",
                                        "example.org.crt", "example.org.key"};
    char p[400];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
    return 0;
}

static struct config *load_text(const char *text)
{
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    err[0] = '\0';
    return config_load(file, err, sizeof err);
}

/* Loading `text` fails with exactly "FILE:LINE: message". */
static void expect_error(const char *text, int line, const char *message)
{
    char want[1024];
    struct config *c = load_text(text);
    if (c)
        fail_msg("loaded, expected error line %d: %s", line, message);
    snprintf(want, sizeof want, "%s:%d: %s", file, line, message);
    assert_string_equal(err, want);
}

static void test_full(void **state)
{
    touch("a.crt");
    touch("a.key");
    struct config *c = load_text(
        "# a comment\n"
        "log_level: debug\n"
        "workers: 4\n"
        "hosts:\n"
        "  - domain: Example.ORG\n"
        "    certificate: a.crt\n"
        "    key: a.key\n"
        "    modules: [roster, disco, ping]\n"
        "  - domain: chat.example.org\n"
        "listen:\n"
        "  c2s: { address: \"127.0.0.1\", port: 15222 }\n"
        "  c2s_tls: { port: 0 }\n"
        "  s2s:\n"
        "    address: \"::1\"\n"
        "    port: 15269\n"
        "  http: { port: 15280 }\n"
        "  https: { port: 15281 }\n"
        "  component: { address: 127.0.0.1, port: 15347 }\n"
        "storage: { backend: sqlite, path: /var/lib/aldis/x.db }\n"
        "c2s: { require_encryption: false, allow_plain: no, max_sessions_per_user: 3 }\n"
        "tls: { min_version: 1.3, ciphers: \"HIGH:!aNULL\" }\n"
        "limits:\n"
        "  max_stanza_size: 64k\n"
        "  max_depth: 16\n"
        "  max_attrs: 32\n"
        "  handshake_timeout: 10\n"
        "  idle_timeout: 120\n"
        "  ping_timeout: 30\n"
        "  rate_bytes_per_sec: 100000\n"
        "auth: { fail_per_ip: 3, fail_per_account: 2, fail_window: 600 }\n"
        "modules:\n"
        "  offline: { max_messages: 50 }\n");
    if (!c)
        fail_msg("%s", err);
    assert_string_equal(c->log_level, "debug");
    assert_int_equal(c->workers, 4);
    assert_int_equal(c->nhosts, 2);
    assert_string_equal(c->hosts[0].domain, "example.org");
    char want[512];
    snprintf(want, sizeof want, "%s/a.crt", c->dir);
    assert_string_equal(c->hosts[0].certificate, want);
    snprintf(want, sizeof want, "%s/a.key", c->dir);
    assert_string_equal(c->hosts[0].key, want);
    assert_int_equal(c->hosts[0].nmodules, 3);
    assert_string_equal(c->hosts[0].modules[0], "roster");
    assert_string_equal(c->hosts[0].modules[2], "ping");
    assert_null(c->hosts[0].modules[3]);
    /* Second host: all modules, default certificate names. */
    assert_string_equal(c->hosts[1].domain, "chat.example.org");
    assert_int_equal(c->hosts[1].nmodules, 0);
    assert_null(c->hosts[1].modules[0]);
    snprintf(want, sizeof want, "%s/chat.example.org.crt", c->dir);
    assert_string_equal(c->hosts[1].certificate, want);

    assert_string_equal(c->c2s.address, "127.0.0.1");
    assert_int_equal(c->c2s.port, 15222);
    assert_string_equal(c->c2s_tls.address, "::");
    assert_int_equal(c->c2s_tls.port, 0);
    assert_string_equal(c->s2s.address, "::1");
    assert_int_equal(c->s2s.port, 15269);
    assert_int_equal(c->http.port, 15280);
    assert_int_equal(c->https.port, 15281);
    assert_int_equal(c->component.port, 15347);
    assert_string_equal(c->store_backend, "sqlite");
    assert_string_equal(c->store_path, "/var/lib/aldis/x.db");
    assert_false(c->require_encryption);
    assert_false(c->allow_plain);
    assert_int_equal(c->max_sessions_per_user, 3);
    assert_string_equal(c->tls_min_version, "1.3");
    assert_string_equal(c->tls_ciphers, "HIGH:!aNULL");
    assert_int_equal(c->max_stanza_size, 65536);
    assert_int_equal(c->max_depth, 16);
    assert_int_equal(c->max_attrs, 32);
    assert_int_equal(c->handshake_timeout, 10);
    assert_int_equal(c->idle_timeout, 120);
    assert_int_equal(c->ping_timeout, 30);
    assert_int_equal(c->rate_bytes_per_sec, 100000);
    assert_int_equal(c->auth_fail_per_ip, 3);
    assert_int_equal(c->auth_fail_per_account, 2);
    assert_int_equal(c->auth_fail_window, 600);
    assert_int_equal(c->nmodule_options, 1);

    assert_non_null(config_host(c, "example.org"));
    assert_non_null(config_host(c, "EXAMPLE.org"));
    assert_ptr_equal(config_host(c, "chat.example.org"), &c->hosts[1]);
    assert_null(config_host(c, "other.org"));

    /* The file path and its directory are absolute. */
    assert_true(c->path[0] == '/');
    assert_true(c->dir[0] == '/');
    config_free(c);
}

static void test_defaults(void **state)
{
    struct config *c = load_text("hosts:\n  - domain: localhost\n");
    if (!c)
        fail_msg("%s", err);
    assert_string_equal(c->log_level, "info");
    assert_int_equal(c->workers, 0);
    assert_int_equal(c->nhosts, 1);
    assert_string_equal(c->hosts[0].domain, "localhost");
    const struct listen_config *l[] = {&c->c2s,  &c->c2s_tls, &c->s2s,
                                       &c->http, &c->https,   &c->component};
    const int ports[] = {5222, 5223, 5269, 5280, 5281, 5347};
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(l[i]->address, "::");
        assert_int_equal(l[i]->port, ports[i]);
        assert_int_equal(config_default_ports[i], ports[i]);
    }
    assert_string_equal(c->store_backend, "sqlite");
    char want[512];
    snprintf(want, sizeof want, "%s/aldis.db", c->dir);
    assert_string_equal(c->store_path, want);
    assert_true(c->require_encryption);
    assert_true(c->allow_plain);
    assert_string_equal(c->tls_min_version, "1.2");
    assert_null(c->tls_ciphers);
    assert_int_equal(c->max_stanza_size, 262144);
    assert_int_equal(c->max_depth, 32);
    assert_int_equal(c->max_attrs, 64);
    assert_int_equal(c->handshake_timeout, 30);
    assert_int_equal(c->idle_timeout, 300);
    assert_int_equal(c->ping_timeout, 60);
    assert_int_equal(c->rate_bytes_per_sec, 0);
    assert_int_equal(c->max_sessions_per_user, 10);
    assert_int_equal(c->auth_fail_per_ip, 10);
    assert_int_equal(c->auth_fail_per_account, 5);
    assert_int_equal(c->auth_fail_window, 60);
    assert_int_equal(c->nmodule_options, 0);
    assert_int_equal(config_check_unused(c, err, sizeof err), 0);
    config_free(c);

    /* Empty sections are allowed and mean "all defaults". */
    c = load_text("hosts:\n  - domain: localhost\nlimits:\nlisten:\n  c2s:\n");
    if (!c)
        fail_msg("%s", err);
    assert_int_equal(c->c2s.port, 5222);
    config_free(c);
}

static void test_unknown_keys(void **state)
{
    const char *h = "hosts:\n  - domain: localhost\n";
    char text[512];
    struct {
        const char *tail;
        int line;
        const char *msg;
    } cases[] = {
        {"colour: blue\n", 3, "unknown key 'colour' in 'top level'"},
        {"limits:\n  max_stanza: 5\n", 4, "unknown key 'max_stanza' in 'limits'"},
        {"listen:\n  xmpp: { port: 1 }\n", 4, "unknown key 'xmpp' in 'listen'"},
        {"listen:\n  c2s: { prot: 1 }\n", 4, "unknown key 'prot' in 'listen.c2s'"},
        {"storage:\n  file: x.db\n", 4, "unknown key 'file' in 'storage'"},
        {"c2s:\n  tls: true\n", 4, "unknown key 'tls' in 'c2s'"},
        {"tls:\n  version: 1.2\n", 4, "unknown key 'version' in 'tls'"},
        {"auth:\n\n  fails: 1\n", 5, "unknown key 'fails' in 'auth'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text, "%s%s", h, cases[i].tail);
        expect_error(text, cases[i].line, cases[i].msg);
    }
    expect_error("hosts:\n  - domain: localhost\n    cert: x\n", 3,
                 "unknown key 'cert' in 'hosts'");
}

static void test_errors(void **state)
{
    const char *h = "hosts:\n  - domain: localhost\n";
    char text[512];
    struct {
        const char *tail;
        int line;
        const char *msg;
    } cases[] = {
        {"workers: 300\n", 3, "'workers' must be from 0 to 256, not 300"},
        {"workers: many\n", 3, "'workers' must be an integer from 0 to 256, not 'many'"},
        {"workers:\n", 3, "'workers' must be an integer from 0 to 256, not empty"},
        {"workers: [1]\n", 3, "'workers' must be an integer from 0 to 256, not a list"},
        {"log_level: loud\n", 3,
         "'log_level' must be one of error | warn | info | debug, not 'loud'"},
        {"listen:\n  c2s:\n    port: 70000\n", 5, "'port' must be from 0 to 65535, not 70000"},
        {"listen:\n  c2s: { address: example.org }\n", 4,
         "'address' must be an IP address such as \"::\" or \"127.0.0.1\", not "
         "'example.org'"},
        {"listen: 5\n", 3, "'listen' must be a mapping (key: value lines), not a value"},
        {"limits:\n  max_stanza_size: 100\n", 4,
         "'max_stanza_size' must be from 1024 to 16777216, not 100"},
        {"limits:\n  max_stanza_size: 17M\n", 4,
         "'max_stanza_size' must be from 1024 to 16777216, not 17825792"},
        {"c2s:\n  allow_plain: maybe\n", 4, "'allow_plain' must be true or false, not 'maybe'"},
        {"tls:\n  min_version: 1.1\n", 4, "'min_version' must be one of 1.2 | 1.3, not '1.1'"},
        {"storage:\n  backend: oracle\n", 4, "'backend' must be one of sqlite, not 'oracle'"},
        {"storage:\n  path: ''\n", 4, "'path' must be a non-empty string, not a value"},
        {"c2s:\n  require_encryption: true\n  require_encryption: false\n", 5,
         "duplicate key 'require_encryption' in 'c2s'"},
        {"modules:\n  offline:\n    max: { a: 1 }\n", 5,
         "option 'max' for module 'offline' must be a value or a list"},
        {"modules:\n  Bad-Name: {}\n", 4, "'Bad-Name' is not a module name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text, "%s%s", h, cases[i].tail);
        expect_error(text, cases[i].line, cases[i].msg);
    }

    /* Hosts. */
    expect_error("workers: 1\n", 1,
                 "'hosts' is required: a list of at least one '- domain: example.org'");
    expect_error("hosts: []\n", 1, "'hosts' is empty: at least one host is required");
    expect_error("hosts: localhost\n", 1,
                 "'hosts' must be a list of hosts, each with at least '- domain: "
                 "example.org'");
    expect_error("hosts:\n  - certificate: x.crt\n", 2, "host without 'domain'");
    expect_error("hosts:\n  - domain: bad..name\n", 2, "'bad..name' is not a valid domain name");
    expect_error("hosts:\n  - domain: -bad.org\n", 2, "'-bad.org' is not a valid domain name");
    expect_error("hosts:\n  - domain: a_b.org\n", 2, "'a_b.org' is not a valid domain name");
    expect_error("hosts:\n  - domain: 10.0.0.1\n", 2,
                 "host domain '10.0.0.1' is an IP address; use a domain name");
    expect_error("hosts:\n  - domain: a.org\n  - domain: A.org\n", 3,
                 "host 'a.org' is defined twice");
    expect_error("hosts:\n  - domain: a.org\n    modules: [roster, roster]\n", 3,
                 "module 'roster' is listed twice");
    expect_error("hosts:\n  - domain: a.org\n    modules: roster\n", 3,
                 "'modules' must be a list of module names, such as [roster, presence]");

    /* A named certificate must exist (message carries the absolute path). */
    struct config *c = load_text("hosts:\n  - domain: a.org\n    certificate: nope.crt\n");
    assert_null(c);
    assert_non_null(strstr(err, ":3: certificate file '"));
    assert_non_null(strstr(err, "/nope.crt' does not exist"));

    /* Two listeners on one port. */
    c = load_text("hosts:\n  - domain: a.org\nlisten:\n  http: { port: 5222 }\n");
    assert_null(c);
    assert_non_null(strstr(err, "listeners 'c2s' and 'http' both use port 5222"));
    /* ...is fine on distinct specific addresses. */
    c = load_text("hosts:\n  - domain: a.org\nlisten:\n"
                  "  c2s: { address: 127.0.0.1 }\n"
                  "  http: { address: 127.0.0.2, port: 5222 }\n");
    if (!c)
        fail_msg("%s", err);
    config_free(c);

    /* YAML syntax errors carry the line. */
    c = load_text("hosts:\n  - domain: a.org\nlimits: { max_depth: 5\n");
    assert_null(c);
    assert_non_null(strstr(err, "YAML syntax error"));
    char want[512];
    snprintf(want, sizeof want, "%s:", file);
    assert_true(strncmp(err, want, strlen(want)) == 0);

    c = load_text("");
    assert_null(c);
    assert_non_null(strstr(err, ":1: the file is empty"));
    c = load_text("- a\n- b\n");
    assert_null(c);
    assert_non_null(strstr(err, ":1: the file must be a mapping"));

    assert_null(config_load("/nonexistent/aldis.yaml", err, sizeof err));
    assert_non_null(strstr(err, "cannot read /nonexistent/aldis.yaml"));
}

static void test_module_options(void **state)
{
    struct config *c = load_text("hosts:\n  - domain: a.org\n"
                                 "modules:\n"
                                 "  offline:\n"
                                 "    max_messages: 50\n"
                                 "    enabled: yes\n"
                                 "  muc:\n"
                                 "    admins: [a@a.org, b@a.org]\n"
                                 "    title: \"Rooms\"\n"
                                 "    bad_int: 12x\n"
                                 "  ping:\n");
    if (!c)
        fail_msg("%s", err);
    assert_int_equal(c->nmodule_options, 5);
    long n;
    bool b;
    err[0] = '\0';
    assert_int_equal(config_module_int(c, "offline", "max_messages", 1000, 0, 10000,
                                       &n, err, sizeof err),
                     0);
    assert_int_equal(n, 50);
    assert_int_equal(config_module_int(c, "offline", "absent", 7, 0, 10, &n, err,
                                       sizeof err),
                     0);
    assert_int_equal(n, 7);
    assert_int_equal(config_module_bool(c, "offline", "enabled", false, &b, err,
                                        sizeof err),
                     0);
    assert_true(b);
    assert_int_equal(config_module_bool(c, "ping", "x", true, &b, err, sizeof err), 0);
    assert_true(b);
    assert_string_equal(config_module_str(c, "muc", "admins", NULL), "a@a.org\nb@a.org");
    assert_string_equal(config_module_str(c, "muc", "nothing", "dflt"), "dflt");

    /* One option is still unread: reported with its line. */
    char want[512];
    assert_int_equal(config_check_unused(c, err, sizeof err), ALDIS_ECONFIG);
    snprintf(want, sizeof want, "%s:9: unknown option 'title' for module 'muc'", c->path);
    assert_string_equal(err, want);
    assert_string_equal(config_module_str(c, "muc", "title", NULL), "Rooms");

    /* Out of range and malformed values. */
    assert_int_equal(config_module_int(c, "offline", "max_messages", 1000, 100, 200,
                                       &n, err, sizeof err),
                     ALDIS_ECONFIG);
    snprintf(want, sizeof want,
             "%s:5: option 'max_messages' for module 'offline' must be an integer "
             "from 100 to 200, not '50'",
             c->path);
    assert_string_equal(err, want);
    assert_int_equal(config_module_int(c, "muc", "bad_int", 0, 0, 100, &n, err,
                                       sizeof err),
                     ALDIS_ECONFIG);
    assert_int_equal(config_module_bool(c, "muc", "title", false, &b, err, sizeof err),
                     ALDIS_ECONFIG);
    assert_non_null(strstr(err, ":9: option 'title' for module 'muc' must be true or false"));

    /* Everything has been read now. */
    assert_int_equal(config_check_unused(c, err, sizeof err), 0);
    config_free(c);
}

static void test_template(void **state)
{
    const char *names[] = {"disco", "roster", "presence", "message", "offline",
                           "ping", "version", "last", "carbons", "mam", "muc",
                           "pubsub", NULL};
    int ports[CONFIG_PORT_COUNT] = {15222, 15223, 0, 15280, 15281, 15347};
    char *text = config_template("example.org", ports, names);
    assert_non_null(text);
    /* Each top-level key is mentioned. */
    const char *keys[] = {"log_level:", "workers:", "hosts:", "listen:", "storage:",
                          "c2s:", "tls:", "limits:", "auth:", "modules:",
                          "max_stanza_size:", "rate_bytes_per_sec:",
                          "fail_window:", "max_sessions_per_user:", "ciphers:"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strstr(text, keys[i]))
            fail_msg("template lacks %s", keys[i]);
    assert_non_null(strstr(text, "pubsub]"));

    touch("example.org.crt");
    touch("example.org.key");
    struct config *c = load_text(text);
    if (!c)
        fail_msg("template does not load: %s\n%s", err, text);
    free(text);
    assert_string_equal(c->hosts[0].domain, "example.org");
    assert_int_equal(c->hosts[0].nmodules, 0);
    assert_int_equal(c->c2s.port, 15222);
    assert_int_equal(c->c2s_tls.port, 15223);
    assert_int_equal(c->s2s.port, 0);
    assert_int_equal(c->http.port, 15280);
    assert_int_equal(c->https.port, 15281);
    assert_int_equal(c->component.port, 15347);
    assert_int_equal(c->max_stanza_size, 262144);
    assert_int_equal(config_check_unused(c, err, sizeof err), 0);
    config_free(c);

    /* Uncommenting every optional line gives the documented defaults. */
    text = config_template("example.org", config_default_ports, NULL);
    char *un = malloc(strlen(text) * 2 + 1);
    assert_non_null(un);
    char *o = un;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) + 1 : strlen(line);
        /* "# key: value" and "#   key: value" lines, not prose comments. */
        const char *body = line;
        if (line[0] == '#' && line[1] == ' ') {
            const char *colon = memchr(line, ':', len);
            const char *sp = line + 2;
            while (*sp == ' ')
                sp++;
            if (colon && (colon[1] == '\n' || colon[1] == ' ') &&
                strspn(sp, "abcdefghijklmnopqrstuvwxyz0123456789_") == (size_t)(colon - sp))
                body = line + 2;
        }
        memcpy(o, body, len - (size_t)(body - line));
        o += len - (size_t)(body - line);
        line += len;
    }
    *o = '\0';
    free(text);
    c = load_text(un);
    if (!c)
        fail_msg("uncommented template does not load: %s\n%s", err, un);
    free(un);
    assert_string_equal(c->log_level, "info");
    assert_true(c->require_encryption);
    assert_int_equal(c->max_depth, 32);
    assert_int_equal(c->auth_fail_window, 60);
    assert_int_equal(c->nmodule_options, 1);
    long n;
    assert_int_equal(config_module_int(c, "offline", "max_messages", 5, 0, 100000, &n,
                                       err, sizeof err),
                     0);
    assert_int_equal(n, 1000);
    config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_module_options),
        cmocka_unit_test(test_template),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
