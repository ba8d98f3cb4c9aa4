/* listener.c - per-worker listening sockets with SO_REUSEPORT. XMPP ports
 * are libuv TCP servers; HTTP ports are polled and accepted here, and the
 * socket goes to libwebsockets, which runs on this loop but does not own
 * the listening socket (so several workers' contexts can share a port). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aldis/error.h"
#include "aldis/log.h"
#include "core/worker_internal.h"
#include "net/listener.h"

struct listener {
    union {
        uv_tcp_t tcp;   /* XMPP kinds */
        uv_poll_t poll; /* HTTP kinds: readable = connections to accept */
    } h;
    int fd;             /* HTTP kinds */
    enum listener_kind kind;
    listener_accept_fn on_accept;
    listener_fd_fn on_accept_fd;
};

static bool kind_is_http(enum listener_kind k) { return k == LISTEN_HTTP || k == LISTEN_HTTPS; }

/* Accept a bounded batch per wake-up so one busy port cannot starve the
 * loop; level-triggered polling brings us back for the rest. */
#define ACCEPT_BATCH 64

static void on_http_readable(uv_poll_t *p, int status, int events)
{
    struct listener *l = p->data;
    if (status < 0 || !(events & UV_READABLE))
        return;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int cfd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED)
                log_warn("net", "accept failed: %s", strerror(errno));
            return;
        }
        l->on_accept_fd(cfd, l->kind);
    }
}

struct listeners {
    struct listener *l[LISTEN_KINDS];
};

static void on_connection(uv_stream_t *server, int status)
{
    struct listener *l = server->data;
    if (status < 0) {
        log_warn("net", "accept failed: %s", uv_strerror(status));
        return;
    }
    l->on_accept(server, l->kind);
}

static int open_socket(const char *address, int port, int *fd_out, bool reuseport, char *err,
                       size_t errlen)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    int family;
    if (strchr(address, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        if (uv_ip6_addr(address, port, a) < 0)
            goto bad_addr;
        family = AF_INET6;
        sl = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        if (uv_ip4_addr(address, port, a) < 0)
            goto bad_addr;
        family = AF_INET;
        sl = sizeof *a;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return ALDIS_EIO;
    }
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
        snprintf(err, errlen, "cannot listen on [%s]:%d: %s (is another server using the port? "
                 "change it under 'listen:' in the config)", address, port, strerror(errno));
        close(fd);
        return ALDIS_EIO;
    }
    *fd_out = fd;
    return 0;
bad_addr:
    snprintf(err, errlen, "listen address '%s' is not an IP address", address);
    return ALDIS_EINVAL;
}

static void listener_closed(uv_handle_t *h)
{
    struct listener *l = h->data;
    if (kind_is_http(l->kind))
        close(l->fd);
    free(l);
}

int listeners_check(const struct config *cfg, char *err, size_t errlen)
{
    /* SO_REUSEPORT would let a second server (or a stale one) share our
     * ports silently; a plain bind first makes "port in use" an error. */
    /* the HTTP ports too: src/http/ opens them with SO_REUSEPORT as well */
    const struct listen_config *lc[] = {&cfg->c2s, &cfg->c2s_tls, &cfg->http, &cfg->https};
    for (size_t k = 0; k < sizeof lc / sizeof *lc; k++) {
        if (!lc[k]->port)
            continue;
        int fd;
        int rc = open_socket(lc[k]->address ? lc[k]->address : "::", lc[k]->port, &fd, false, err,
                             errlen);
        if (rc < 0)
            return rc;
        close(fd);
    }
    return 0;
}

int listeners_start(uv_loop_t *loop, const struct config *cfg, listener_accept_fn on_accept,
                    listener_fd_fn on_accept_fd, char *err, size_t errlen)
{
    struct worker_state *ws = worker_state(worker_current());
    struct listeners *ls = calloc(1, sizeof *ls);
    ALDIS_ASSERT(ls != NULL);
    ws->listeners = ls;
    const struct listen_config *lc[LISTEN_KINDS] = {&cfg->c2s, &cfg->c2s_tls, &cfg->http,
                                                   &cfg->https};
    for (int k = 0; k < LISTEN_KINDS; k++) {
        if (!lc[k]->port || (kind_is_http((enum listener_kind)k) && !on_accept_fd))
            continue;
        int fd;
        int rc = open_socket(lc[k]->address ? lc[k]->address : "::", lc[k]->port, &fd, true, err,
                             errlen);
        if (rc < 0)
            return rc;
        struct listener *l = calloc(1, sizeof *l);
        ALDIS_ASSERT(l != NULL);
        l->kind = (enum listener_kind)k;
        l->on_accept = on_accept;
        l->on_accept_fd = on_accept_fd;
        ls->l[k] = l;
        if (kind_is_http(l->kind)) {
            l->fd = fd;
            if (listen(fd, 1024) < 0 || (rc = uv_poll_init(loop, &l->h.poll, fd)) < 0) {
                snprintf(err, errlen, "listen on port %d: %s", lc[k]->port, strerror(errno));
                ls->l[k] = NULL;
                close(fd);
                free(l);
                return ALDIS_EIO;
            }
            l->h.poll.data = l;
            uv_poll_start(&l->h.poll, UV_READABLE, on_http_readable);
            continue;
        }
        uv_tcp_init(loop, &l->h.tcp);
        l->h.tcp.data = l;
        uv_tcp_open(&l->h.tcp, fd);
        rc = uv_listen((uv_stream_t *)&l->h.tcp, 1024, on_connection);
        if (rc < 0) {
            snprintf(err, errlen, "listen on port %d: %s", lc[k]->port, uv_strerror(rc));
            return ALDIS_EIO;
        }
    }
    return 0;
}

void listeners_stop(void)
{
    struct worker_state *ws = worker_state(worker_current());
    struct listeners *ls = ws->listeners;
    if (!ls)
        return;
    for (int k = 0; k < LISTEN_KINDS; k++)
        if (ls->l[k])
            uv_close((uv_handle_t *)&ls->l[k]->h, listener_closed);
    free(ls);
    ws->listeners = NULL;
}
