/* aldis-bench: shared types of the XMPP load generator — options, per-thread
 * workers, client connections and the SCRAM client. The generator is
 * standalone: it speaks XMPP over TLS (or over WebSocket, RFC 7395) to any
 * server and links only OpenSSL, expat, libwebsockets and pthreads, so the
 * same binary measures Aldis, Prosody and ejabberd. */
#ifndef ALDIS_BENCH_H
#define ALDIS_BENCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <expat.h>
#include <openssl/ssl.h>

#define CONN_ROOM_MAX 256

enum bench_scenario {
    SCEN_LOGIN,
    SCEN_IDLE,
    SCEN_CHAT,
    SCEN_LATENCY,
    SCEN_REGISTER,
    SCEN_MUC,
};

struct bench_opts {
    enum bench_scenario scenario;
    /* The ws* scenarios: XMPP over WebSocket (RFC 7395) instead of TCP with
     * STARTTLS; ws.c runs the connections, conn.c the same XMPP logic. */
    int ws;
    int ws_tls;          /* wss:// (--tls) instead of ws:// */
    const char *ws_path; /* HTTP path of the endpoint (--ws-path) */
    const char *host;
    int port;
    const char *domain;
    const char *user_prefix;
    const char *password; /* NULL: each user's password is its own username */
    int users;            /* user pool PREFIX1..PREFIXusers */
    double duration;      /* seconds of measurement (idle: of holding) */
    double setup_timeout; /* seconds allowed to bring sessions up */
    double warmup;        /* seconds of traffic before measuring */
    double rate;          /* latency: total messages per second */
    int threads;
    int concurrency; /* login/register/idle: handshakes in progress at once */
    int pairs;       /* chat/latency: session pairs */
    int window;      /* chat: messages in flight per sender */
    int json;
    int verbose;
    int server_pid; /* >0: report this process's CPU time and RSS */
    /* muc */
    int occupants;          /* sessions in the room (users 1..occupants) */
    int senders;            /* occupants 1..senders send groupchat messages */
    int rate_set;           /* --rate given: fixed rate instead of saturation */
    const char *room;       /* room node (default "bench") */
    const char *muc_domain; /* MUC service (default conference.DOMAIN) */
    char room_jid[CONN_ROOM_MAX];
};

/* Handshake and session states of one client connection, in protocol order
 * (RFC 6120 §9.1: TLS, then SASL, then resource binding). */
enum conn_state {
    CS_FREE,
    CS_CONNECTING,
    CS_WAIT_FEATURES_TLS,
    CS_WAIT_PROCEED,
    CS_TLS_HANDSHAKE,
    CS_WAIT_FEATURES_SASL,
    CS_WAIT_CHALLENGE,
    CS_WAIT_SUCCESS,
    CS_WAIT_FEATURES_BIND,
    CS_WAIT_BIND,
    CS_WAIT_SESSION,
    CS_WAIT_REGISTER,
    CS_READY,
};

#define CONN_TEXT_MAX 2048
#define CONN_JID_MAX 256

/* The SCRAM keys derived from one user's password and the server's salt.
 * PBKDF2 is deliberately slow (RFC 5802 §5.1); a real client caches the
 * salted password too, and caching keeps the generator's CPU off the
 * measurement so it is the server's cost that shows. */
struct scram_cache {
    int valid;
    int sha256;
    unsigned iterations;
    unsigned char salt[64];
    size_t salt_len;
    unsigned char client_key[32];
    unsigned char server_key[32];
};

struct scram_state {
    int sha256;
    char client_first_bare[160];
    char nonce[48];
    unsigned char server_signature[32];
    size_t hash_len;
};

struct worker;
struct lws;

struct conn {
    struct worker *w;
    int slot;
    uint32_t gen; /* bumped on every reconnect: stale epoll events are ignored */
    int fd;
    enum conn_state state;
    SSL *ssl;
    struct lws *wsi; /* ws: the WebSocket connection, NULL once let go */
    XML_Parser parser;
    int user;     /* 1-based user number */
    int depth;    /* XML depth: 1 = stream, 2 = top-level element */
    int restart;  /* stream restart pending after <proceed/> or <success/> */
    int want_out; /* EPOLLOUT registered */
    int closing;
    int parsing;       /* inside XML_Parse */
    int start_pending; /* reconnect requested, done by the worker loop */
    int was_ready;
    int failures;    /* consecutive failed attempts, for the back-off */
    double retry_at; /* no reconnect before this time */

    /* the top-level element being parsed */
    char top[32];
    char top_type[16];
    char top_id[64];
    char top_from[CONN_JID_MAX];
    int feat_starttls, feat_bind, feat_session_required, feat_register;
    int mech_sha1, mech_sha256;
    int has_body, has_error, in_session;
    int st110, st201; /* MUC status codes in a presence (XEP-0045 §15.6) */
    char text[CONN_TEXT_MAX];
    size_t text_len;
    int capture;

    char jid[CONN_JID_MAX]; /* full JID after bind */
    struct scram_state scram;

    /* Output not written yet. TCP: a byte stream. ws: one record per
     * WebSocket message, laid out as ws.c says (ws_conn_queue). */
    char *out;
    size_t out_len, out_cap;

    /* chat / latency */
    struct conn *partner;
    uint64_t sent;     /* messages this session has sent */
    uint64_t received; /* messages this session has received */
    double ready_at;

    /* muc */
    int join_sent; /* presence to room/nick sent on this connection */
    int joined;    /* own presence with status 110 received */
    int sender;    /* sends groupchat messages */
};

struct worker {
    int index;
    int epfd;
    const struct bench_opts *opts;
    struct conn *conns;
    int nconns;
    SSL_CTX *ssl_ctx;
    struct scram_cache *cache; /* indexed by user - 1 */
    unsigned next_user;

    /* counters read by the main thread while running */
    atomic_uint_fast64_t logins;
    atomic_uint_fast64_t delivered;
    atomic_uint_fast64_t errors;
    atomic_int ready;
    atomic_int registered;
    atomic_int reg_conflicts;
    atomic_int drained; /* DRAIN: nothing of ours in flight */
    atomic_int joined;  /* muc: occupants whose join completed */

    /* latency samples in microseconds, only during measurement */
    uint32_t *lat;
    size_t lat_len, lat_cap;
    uint64_t rate_sent;
    int rr; /* round-robin cursor for rate-paced sending */
    unsigned lat_every; /* keep one latency sample in lat_every (>= 1) */
    unsigned lat_skip;
    int nsenders;       /* muc: senders among this worker's connections */
    char last_error[160];
    char mechanism[16]; /* SASL mechanism last used */

    /* the loop's own state (worker_tick) */
    int started;      /* chat: the windows were filled */
    double next_scan; /* next scan for connections to (re)open */
    struct ws_loop *ws; /* ws scenarios: this thread's libwebsockets context */
};

/* Global phase, set by the main thread: sessions come up in SETUP, traffic
 * flows from WARMUP on but only MEASURE is counted; in DRAIN no more is sent
 * and the messages still in flight are received, so none is left for the
 * server to store offline when the sessions close. */
enum bench_phase { PHASE_SETUP, PHASE_WARMUP, PHASE_MEASURE, PHASE_DRAIN, PHASE_STOP };
/* Random per run, in every message body: messages of an earlier run (e.g.
 * delivered from offline storage at login) are not counted. */
extern unsigned bench_run_id;
extern atomic_int bench_phase;
extern double bench_traffic_start; /* written before the phase changes */
extern double bench_measure_start;

double bench_now(void);

/* aldis-bench.c: one pass of the scenario logic between two waits for
 * socket events. Returns the longest wait in milliseconds before the next
 * pass, or -1 when the worker must stop. */
int worker_tick(struct worker *w);
/* Close every connection of the worker and free their buffers. */
void worker_conns_free(struct worker *w);

/* conn.c */
int conn_start(struct conn *c);
void conn_reset(struct conn *c);
void conn_on_event(struct conn *c, uint32_t events);
/* Room for `need` bytes of output in all; -1 (the connection failed) when
 * memory runs out. */
int conn_reserve(struct conn *c, size_t need);
void conn_queue(struct conn *c, const char *data, size_t len);
void conn_flush(struct conn *c);
void conn_fail(struct conn *c, const char *why);
void conn_send_messages(struct conn *c, int count);
void conn_send_groupchat(struct conn *c, int count);
void conn_send_muc_join(struct conn *c);
void conn_send_muc_config(struct conn *c);
/* Feed received bytes (TCP: the decrypted stream; ws: a WebSocket message
 * or a fragment of one) to the XML parser and act on complete elements. */
void conn_receive(struct conn *c, const char *data, size_t len);
/* ws: the WebSocket upgrade succeeded; open the XMPP stream. */
void conn_ws_established(struct conn *c);

/* ws.c: the WebSocket transport. One libwebsockets context per worker
 * thread, serviced by ws_worker_run instead of the epoll loop. */
int ws_worker_setup(struct worker *w);
void ws_worker_run(struct worker *w);
void ws_worker_free(struct worker *w);
int ws_conn_start(struct conn *c);
void ws_conn_release(struct conn *c);
void ws_conn_queue(struct conn *c, const char *data, size_t len);
void ws_conn_flush(struct conn *c);
void ws_log_init(int verbose);

/* scram.c */
int scram_client_first(struct conn *c, int sha256, char *out, size_t out_size);
int scram_client_final(struct conn *c, const char *server_first_b64, char *out,
                       size_t out_size);
int scram_verify_final(struct conn *c, const char *server_final_b64);

/* aldis-bench.c: scenario callbacks from the connection state machine */
void bench_on_ready(struct conn *c);
void bench_on_message(struct conn *c, const char *body);
void bench_on_register(struct conn *c, int ok, int conflict);
void bench_on_closed(struct conn *c);
void bench_on_presence(struct conn *c);
void bench_on_iq_result(struct conn *c, int ok);
void bench_on_message_error(struct conn *c);

#endif
