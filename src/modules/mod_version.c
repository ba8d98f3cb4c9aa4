/* mod_version.c - software version of the server (XEP-0092): name "Aldis",
 * the release version, and the operating system only if the operator asks
 * for it (option version.show_os), since it helps attackers more than
 * users (XEP-0092 §5: the OS MUST be possible to hide). */
#include <string.h>
#include <sys/utsname.h>

#include "aldis/module.h"
#include "aldis/xml.h"

#define NS_VERSION "jabber:iq:version"

/* The release version. The build passes the CMake project version as
 * ALDIS_VERSION; this fallback is the one place it is written by hand. */
#ifndef ALDIS_VERSION
#define ALDIS_VERSION "0.1.0"
#endif

static bool version_show_os;
/* Filled once at init, read-only afterwards (HOST handlers may run on any
 * worker). */
static char version_os[sizeof(((struct utsname *)0)->sysname)];

static int version_init(const struct config *cfg, char *err, size_t errlen)
{
    int rc = config_module_bool(cfg, "version", "show_os", false, &version_show_os, err, errlen);
    if (rc < 0)
        return rc;
    struct utsname u;
    if (version_show_os && uname(&u) == 0)
        memcpy(version_os, u.sysname, sizeof version_os);
    return 0;
}

static void version_add_text(struct stanza *st, struct xml_node *parent, const char *name,
                             const char *text)
{
    struct xml_node *el = xml_add_child(st, parent, name, NS_VERSION);
    xml_add_text(st, el, text, strlen(text));
}

/* XEP-0092 §2: <name/> and <version/> are required, <os/> optional. */
static int version_get(struct iq_ctx *ctx)
{
    struct stanza *reply = stanza_iq_result(ctx->iq);
    struct xml_node *q = xml_add_child(reply, reply->root, "query", NS_VERSION);
    version_add_text(reply, q, "name", "Aldis");
    version_add_text(reply, q, "version", ALDIS_VERSION);
    if (version_show_os && version_os[0])
        version_add_text(reply, q, "os", version_os);
    router_route(reply);
    return 0;
}

static const char *const version_host_features[] = {NS_VERSION, NULL};
static const char *const version_account_features[] = {NULL};
static const struct iq_handler version_iq[] = {
    {IQ_GET, TARGET_HOST, NS_VERSION, "query", version_get},
    {0},
};
static const struct hook_row version_hooks[] = {{0}};

struct module mod_version = {
    .name = "version",
    .host_features = version_host_features,
    .account_features = version_account_features,
    .iq_handlers = version_iq,
    .hooks = version_hooks,
    .init = version_init,
};
