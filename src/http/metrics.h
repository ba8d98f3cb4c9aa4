/* metrics.h - counters for /metrics (Prometheus text format). Each worker
 * counts into its own slot (single writer: relaxed loads and stores, no
 * locked instructions on the hot path); a scrape sums the slots. Calls from
 * a thread that is not a worker are ignored. */
#ifndef ALDIS_HTTP_METRICS_H
#define ALDIS_HTTP_METRICS_H
#include <stdint.h>

enum metric_transport { MT_TCP, MT_WEBSOCKET, MT_BOSH, MT_TRANSPORTS };
enum metric_dir { MD_IN, MD_OUT };

/* A c2s session of this transport started (+1) or ended (-1). */
void metrics_session(enum metric_transport t, int delta);
/* A stanza (message, presence, iq; anything else counts as "other"). */
void metrics_stanza(enum metric_dir d, const char *name);
void metrics_auth_failure(void);
void metrics_tls_handshake(void);
/* Latencies in nanoseconds, into histograms. */
void metrics_routing_latency(uint64_t ns);
void metrics_store_latency(uint64_t ns);
void metrics_http_request(int status);

#endif
