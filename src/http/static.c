/* static.c - the web client's files at / and XEP-0156 discovery at
 * /.well-known/host-meta(.json). Files come from http.static_dir (default:
 * the web/dist directory of the source tree this binary was built from);
 * paths are checked before lws opens anything: no "..", no hidden files,
 * no symlinks out of the directory. index.html is never cached (it names
 * the current hashed assets); hashed assets are immutable. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aldis/log.h"
#include "http/http_internal.h"
#include "http/http_parse.h"
#include "http/metrics.h"

/* The source tree's web/dist, from this file's own path at build time:
 * a developer's `make run` serves the client they just built. */
static void default_static_dir(char *out, size_t size)
{
    const char *me = __FILE__, *tail = strstr(me, "src/http/static.c");
    if (!tail || me[0] != '/') {
        snprintf(out, size, "web/dist");
        return;
    }
    snprintf(out, size, "%.*sweb/dist", (int)(tail - me), me);
}

static const char *static_dir(char *tmp, size_t size)
{
    if (http_cfg->http_static_dir)
        return http_cfg->http_static_dir;
    default_static_dir(tmp, size);
    return tmp;
}

static const struct {
    const char *ext, *mime;
} mimes[] = {
    {".html", "text/html; charset=utf-8"},  {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},          {".map", "application/json"},
    {".svg", "image/svg+xml"},              {".png", "image/png"},
    {".jpg", "image/jpeg"},                 {".jpeg", "image/jpeg"},
    {".gif", "image/gif"},                  {".webp", "image/webp"},
    {".ico", "image/x-icon"},               {".woff", "font/woff"},
    {".woff2", "font/woff2"},               {".txt", "text/plain; charset=utf-8"},
    {".wasm", "application/wasm"},          {".webmanifest", "application/manifest+json"},
};

static const char *mime_of(const char *path)
{
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash))
        for (size_t i = 0; i < sizeof mimes / sizeof *mimes; i++)
            if (strcasecmp(dot, mimes[i].ext) == 0)
                return mimes[i].mime;
    return "application/octet-stream";
}

/* "app.3f9a1c2e.js", "index-BxY12abc.css": a build tool's content hash in
 * the name means the file never changes under that name. */
static bool is_hashed(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t run = 0;
    for (const char *p = base; *p; p++) {
        if (*p == '.' || *p == '-' || *p == '_') {
            if (run >= 8)
                return true;
            run = 0;
        } else if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) {
            run++;
        } else {
            run = 0;
        }
    }
    return false;
}

/* The web client talks only to this origin (WebSocket, BOSH, uploads). */
/* The page may talk to its own origin and to the hosts' services (the
 * XEP-0363 upload service hands out URLs on upload.DOMAIN, another origin).
 * Built once from the configuration; bounded by CONFIG_MAX_HOSTS. */
#define CSP_ORIGINS_MAX 3072 /* bytes of upload origins (every host, http and https) */
/* the origins appear three times, plus the fixed directives */
static char csp_text[3 * CSP_ORIGINS_MAX + 512];
static pthread_once_t csp_once = PTHREAD_ONCE_INIT;

static void csp_build(void)
{
    char origins[CSP_ORIGINS_MAX] = "";
    size_t n = 0;
    for (size_t i = 0; i < http_cfg->nhosts; i++) {
        const char *d = http_cfg->hosts[i].domain;
        int w = 0;
        if (http_cfg->https.port)
            w = snprintf(origins + n, sizeof origins - n, " https://*.%s:%d", d,
                         http_cfg->https.port);
        if (w >= 0 && (size_t)w < sizeof origins - n)
            n += (size_t)w;
        w = 0;
        if (http_cfg->http.port)
            w = snprintf(origins + n, sizeof origins - n, " http://*.%s:%d", d,
                         http_cfg->http.port);
        if (w >= 0 && (size_t)w < sizeof origins - n)
            n += (size_t)w;
        origins[n] = '\0';
    }
    snprintf(csp_text, sizeof csp_text,
             "default-src 'self'; script-src 'self'; style-src 'self'; "
             "img-src 'self' data: blob:%s; media-src 'self' blob:%s; connect-src 'self'%s; "
             "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
             origins, origins, origins);
}

static const char *csp(void)
{
    pthread_once(&csp_once, csp_build);
    return csp_text;
}

static const char placeholder[] =
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Aldis</title></head>"
    "<body><h1>Aldis XMPP server</h1><p>The web client is not installed here. Build it "
    "(web/) or set <code>http.static_dir</code> in the configuration. XMPP clients can "
    "connect over WebSocket at <code>/xmpp-websocket</code>.</p></body></html>\n";

int http_static(struct lws *wsi, const char *path, bool head)
{
    if (!http_path_safe(path))
        return http_error(wsi, 404, "Not Found");
    char tmp[PATH_MAX], file[PATH_MAX], real_dir[PATH_MAX], real_file[PATH_MAX];
    const char *dir = static_dir(tmp, sizeof tmp);
    bool index = path[strlen(path) - 1] == '/';
    int fl = snprintf(file, sizeof file, "%s%s%s", dir, path, index ? "index.html" : "");
    if (fl < 0 || (size_t)fl >= sizeof file)
        return http_error(wsi, 414, "URI Too Long");
    if (!realpath(dir, real_dir)) {
        if (strcmp(path, "/") != 0 && strcmp(path, "/index.html") != 0)
            return http_error(wsi, 404, "Not Found");
        const char *const h[] = {"cache-control:", "no-cache", "content-security-policy:",
                                 csp(), NULL};
        return http_respond(wsi, 200, "text/html; charset=utf-8", h, placeholder,
                            sizeof placeholder - 1);
    }
    struct stat st;
    if (!realpath(file, real_file) || stat(real_file, &st) != 0)
        return http_error(wsi, 404, "Not Found");
    size_t dl = strlen(real_dir);
    if (strncmp(real_file, real_dir, dl) != 0 || real_file[dl] != '/')
        return http_error(wsi, 404, "Not Found"); /* a symlink out of the directory */
    if (S_ISDIR(st.st_mode)) {
        /* "/app" for a directory: send the browser to "/app/" */
        char loc[600];
        snprintf(loc, sizeof loc, "%s/", path);
        const char *const h[] = {"location:", loc, NULL};
        return http_respond(wsi, 301, "text/plain; charset=utf-8", h, "Moved\n", 6);
    }
    if (!S_ISREG(st.st_mode))
        return http_error(wsi, 404, "Not Found");
    bool html = strstr(mime_of(real_file), "text/html") != NULL;
    const char *cache = html || !is_hashed(real_file) ? "no-cache"
                                                      : "public, max-age=31536000, immutable";
    /* lws_serve_http_file takes extra headers as preformatted lines */
    char extra[5120];
    int n = snprintf(extra, sizeof extra,
                     "cache-control: %s\x0d\x0a"
                     "content-security-policy: %s\x0d\x0a"
                     "x-content-type-options: nosniff\x0d\x0a"
                     "referrer-policy: no-referrer\x0d\x0a",
                     cache, csp());
    (void)head; /* lws answers HEAD with the headers only */
    metrics_http_request(200);
    int rc = lws_serve_http_file(wsi, real_file, mime_of(real_file), extra, n);
    if (rc < 0 || (rc > 0 && lws_http_transaction_completed(wsi)))
        return -1;
    return 0;
}

/* ---- XEP-0156 §3 ---- */

int http_host_meta(struct lws *wsi, bool json, bool head)
{
    char host[256];
    http_request_host(wsi, host, sizeof host);
    bool tls = http_is_tls(wsi);
    /* the URLs of the listener the client used: its scheme, the Host it sent */
    char hostport[300] = "";
    if (lws_hdr_copy(wsi, hostport, sizeof hostport, WSI_TOKEN_HOST) <= 0 || !host[0])
        return http_error(wsi, 400, "Bad Request: no Host header");
    if (!http_host_safe(hostport))
        return http_error(wsi, 400, "Bad Request: bad Host header");
    char ws[400], bosh[400];
    snprintf(ws, sizeof ws, "%s://%s/xmpp-websocket", tls ? "wss" : "ws", hostport);
    snprintf(bosh, sizeof bosh, "%s://%s/http-bind", tls ? "https" : "http", hostport);
    struct buf b;
    buf_init(&b);
    if (json) {
        buf_printf(&b, "{\"links\":[{\"rel\":\"urn:xmpp:alt-connections:websocket\",\"href\":\"%s\"},"
                       "{\"rel\":\"urn:xmpp:alt-connections:xbosh\",\"href\":\"%s\"}]}\n", ws, bosh);
    } else {
        buf_printf(&b, "<?xml version='1.0' encoding='utf-8'?>\n"
                       "<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n"
                       "  <Link rel='urn:xmpp:alt-connections:websocket' href='%s'/>\n"
                       "  <Link rel='urn:xmpp:alt-connections:xbosh' href='%s'/>\n</XRD>\n",
                   ws, bosh);
    }
    (void)head;
    /* XEP-0156 §3.2: browsers on other origins read it (CORS) */
    static const char *const h[] = {"access-control-allow-origin:", "*", "cache-control:",
                                    "max-age=3600", NULL};
    int rc = http_respond(wsi, 200, json ? "application/json" : "application/xrd+xml", h, b.data,
                          b.len);
    buf_free(&b);
    return rc;
}
