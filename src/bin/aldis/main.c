/* aldis - the XMPP server. A thin main over the core: load the config,
 * start the store, TLS, modules and W workers, then wait for signals
 * (SIGTERM/SIGINT: graceful shutdown; SIGHUP: reload certificates and the
 * log level). */
#include <getopt.h>
#include <signal.h>
#include <time.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aldis/config.h"
#include "aldis/error.h"
#include "aldis/log.h"
#include "aldis/store.h"
#include "core/account.h"
#include "core/modules.h"
#include "core/security.h"
#include "core/session.h"
#include "core/worker_internal.h"
#include "http/http.h"
#include "net/conn.h"
#include "net/listener.h"
#include "net/tls.h"
#include "stream/c2s.h"
#include "stream/sasl.h"

#ifndef ALDIS_VERSION
#define ALDIS_VERSION "0.1.0"
#endif

static struct config *cfg;
static const char *config_path;
static atomic_int start_failed;
static char start_error[512];
static uv_timer_t drain_timer;
static uint64_t drain_started;

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: aldis --config FILE [--check-config] [--log-level LEVEL] [--workers N]\n"
            "\n"
            "Aldis XMPP server. Runs in the foreground and logs to stderr.\n"
            "\n"
            "  -c, --config FILE     the aldis.yaml to use (create one with 'aldisctl init')\n"
            "      --check-config    validate the config and exit (0 = valid)\n"
            "  -l, --log-level L     error, warn, info or debug (overrides the config)\n"
            "  -w, --workers N       worker threads (overrides the config; 0 = one per core)\n"
            "  -V, --version         print the version\n"
            "  -h, --help            this help\n"
            "\n"
            "Signals: SIGTERM/SIGINT shut down gracefully; SIGHUP reloads certificates and\n"
            "the log level. See 'man aldis' and docs/ for more.\n");
}

static void on_accept(uv_stream_t *server, enum listener_kind kind)
{
    c2s_accept(server, kind == LISTEN_C2S_TLS);
}

static void worker_init(struct worker *w)
{
    uv_loop_t *loop = worker_loop(w);
    conn_flush_init(loop);
    accounts_init_worker(loop);
    char err[512];
    if (http_worker_start(loop, err, sizeof err) < 0 ||
        listeners_start(loop, cfg, on_accept, http_accept_fd, err, sizeof err) < 0) {
        if (atomic_exchange(&start_failed, 1) == 0)
            snprintf(start_error, sizeof start_error, "%s", err);
    }
}

static void worker_shutdown(struct worker *w, void *arg)
{
    (void)w, (void)arg;
    listeners_stop();
    c2s_shutdown_worker();
    http_worker_stop();
}

static void worker_cleanup(struct worker *w)
{
    http_worker_cleanup(worker_id(w));
    accounts_free_worker();
    sessions_forwards_free();
}

static void stop_when_drained(uv_timer_t *t)
{
    /* wait (bounded) for every stream to close before stopping workers */
    if (sessions_alive() > 0 && uv_now(t->loop) - drain_started < 5000)
        return;
    uv_timer_stop(t);
    uv_stop(t->loop);
}

/* Shutdown runs in two phases. First every worker lets its modules speak
 * while streams are open (worker_stopping: rooms tell occupants with
 * status 332); once all have (or after STOPPING_WAIT_MS), and, when one
 * routed something, after a short grace for it to cross the workers
 * (owner, then session), the listeners stop and the streams close. */
#define STOPPING_WAIT_MS 2000
#define STOPPING_GRACE_MS 150
static atomic_int stopping_left;
static atomic_bool stopping_spoke;
static uint64_t stopping_started, stopping_done_at;

static void worker_stopping(struct worker *w, void *arg)
{
    (void)w, (void)arg;
    if (modules_worker_stopping())
        atomic_store(&stopping_spoke, true);
    atomic_fetch_sub(&stopping_left, 1);
}

static void close_streams_when_quiet(uv_timer_t *t)
{
    uint64_t now = uv_now(t->loop);
    if (!stopping_done_at) {
        if (atomic_load(&stopping_left) > 0 && now - stopping_started < STOPPING_WAIT_MS)
            return;
        stopping_done_at = now;
    }
    if (atomic_load(&stopping_spoke) && now - stopping_done_at < STOPPING_GRACE_MS)
        return;
    uv_timer_stop(t);
    log_info("aldis", "shutting down: closing %ld stream(s)", sessions_alive());
    worker_broadcast(worker_shutdown, NULL);
    drain_started = now;
    uv_timer_start(&drain_timer, stop_when_drained, 20, 20);
}

static void begin_shutdown(uv_loop_t *loop)
{
    static bool started;
    if (started)
        return;
    started = true;
    log_info("aldis", "shutting down");
    atomic_store(&stopping_left, worker_count());
    stopping_started = uv_now(loop);
    worker_broadcast(worker_stopping, NULL);
    uv_timer_start(&drain_timer, close_streams_when_quiet, 10, 10);
}

static void on_signal(uv_signal_t *h, int signum)
{
    if (signum == SIGHUP) {
        char err[1024] = "";
        struct config *fresh = config_load(config_path, err, sizeof err);
        if (!fresh) {
            log_error("aldis", "reload failed, keeping the running configuration: %s", err);
            return;
        }
        if (tls_load(fresh, err, sizeof err) < 0)
            log_error("aldis", "reload: certificates not reloaded: %s", err);
        else
            log_info("aldis", "reload: certificates reloaded for %zu host(s)", fresh->nhosts);
        if (security_clearances_reload(fresh, err, sizeof err) < 0)
            log_error("aldis", "reload: clearances not reloaded: %s", err);
        int lvl = log_level_parse(fresh->log_level ? fresh->log_level : "info");
        if (lvl >= 0)
            log_threshold = (enum log_level)lvl;
        config_free(fresh);
        return;
    }
    begin_shutdown(h->loop);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"check-config", no_argument, 0, 'k'},
        {"log-level", required_argument, 0, 'l'}, {"workers", required_argument, 0, 'w'},
        {"version", no_argument, 0, 'V'},       {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    bool check_only = false;
    const char *level = NULL;
    int workers_override = -1;
    int o;
    while ((o = getopt_long(argc, argv, "c:l:w:Vh", opts, NULL)) != -1) {
        switch (o) {
        case 'c': config_path = optarg; break;
        case 'k': check_only = true; break;
        case 'l': level = optarg; break;
        case 'w': workers_override = atoi(optarg); break;
        case 'V': printf("aldis %s\n", ALDIS_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!config_path || optind != argc) {
        usage(stderr);
        return 2;
    }
    char err[1024] = "";
    cfg = config_load(config_path, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "aldis: %s\n", err);
        return 1;
    }
    if (level && log_level_parse(level) < 0) {
        fprintf(stderr, "aldis: unknown log level '%s' (use error, warn, info or debug)\n", level);
        return 2;
    }
    int lvl = log_level_parse(level ? level : cfg->log_level ? cfg->log_level : "info");
    log_threshold = lvl < 0 ? LOG_INFO : (enum log_level)lvl;
    if (workers_override >= 0)
        cfg->workers = workers_override;
    int nworkers = cfg->workers > 0 ? cfg->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (nworkers < 1)
        nworkers = 1;

    /* libc reads the time zone lazily on the first localtime(); libwebsockets
     * calls it from every worker at once, so read it here, before them. */
    tzset();

    int rc = 1;
    if (sasl_init() < 0) {
        fprintf(stderr, "aldis: cannot initialise GNU SASL\n");
        goto out_cfg;
    }
    if (tls_load(cfg, err, sizeof err) < 0) {
        fprintf(stderr, "aldis: %s\n", err);
        goto out_sasl;
    }
    if (modules_start(cfg, err, sizeof err) < 0) {
        fprintf(stderr, "aldis: %s\n", err);
        goto out_modules;
    }
    if (check_only) {
        printf("%s: configuration is valid (%zu host(s), %zu module(s), %d worker(s))\n",
               config_path, cfg->nhosts, modules_count(), nworkers);
        rc = 0;
        goto out_modules;
    }
    if (listeners_check(cfg, err, sizeof err) < 0) {
        fprintf(stderr, "aldis: %s\n", err);
        goto out_modules;
    }
    if (store_open(cfg->store_backend, cfg->store_path) < 0) {
        fprintf(stderr, "aldis: cannot open the %s store at %s (run 'aldisctl init' or fix "
                        "'storage:' in the config)\n", cfg->store_backend, cfg->store_path);
        goto out_modules;
    }
    c2s_configure(cfg);
    http_configure(cfg);
    signal(SIGPIPE, SIG_IGN);
    /* Catch the signals before any port opens: a SIGTERM that arrives while
     * the workers start (the HTTP contexts take a moment) is then handled
     * by the loop below instead of killing the process. */
    uv_loop_t *loop = uv_default_loop();
    uv_signal_t sigs[4];
    int signums[4] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};
    for (int i = 0; i < 4; i++) {
        uv_signal_init(loop, &sigs[i]);
        uv_signal_start(&sigs[i], on_signal, signums[i]);
    }
    worker_start_all(nworkers, worker_init);
    uv_timer_init(loop, &drain_timer);
    if (atomic_load(&start_failed)) {
        log_error("aldis", "%s", start_error);
        begin_shutdown(loop);
    } else {
        log_info("aldis", "aldis %s serving %zu host(s) (%s...) with %d worker(s); c2s port %d, "
                 "direct TLS port %d, http %d, https %d", ALDIS_VERSION, cfg->nhosts,
                 cfg->hosts[0].domain, nworkers, cfg->c2s.port, cfg->c2s_tls.port, cfg->http.port,
                 cfg->https.port);
        rc = 0;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    worker_stop_threads();
    store_close();
    worker_finish(worker_cleanup);
    for (int i = 0; i < 4; i++)
        uv_close((uv_handle_t *)&sigs[i], NULL);
    uv_close((uv_handle_t *)&drain_timer, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    if (rc == 0 && atomic_load(&start_failed))
        rc = 1;
    log_info("aldis", "stopped");
out_modules:
    modules_stop();
    tls_unload();
out_sasl:
    sasl_done();
out_cfg:
    config_free(cfg);
    return rc;
}
