/* security.h - enforcement of security labels (ARCHITECTURE.md §6): the
 * process-wide policy, the audit log, and the ONE function that asks the
 * labels library (aldis/label.h) whether a recipient may see a stanza.
 * Every delivery path calls in here with a one-line check; where each path
 * is enforced is listed in docs/security-labels.md.
 *
 * Threads: the policy, the default label and the audit log are set up once
 * at startup (mod_labels init) and are immutable afterwards, so every worker
 * reads them without locks. Audit lines are single O_APPEND writes.
 * Clearances live with their holder: an account's on its owner worker
 * (mod_labels account state), a session's on the session's worker (a copy
 * posted by the owner when the resource is bound). */
#ifndef ALDIS_CORE_SECURITY_H
#define ALDIS_CORE_SECURITY_H
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "aldis/config.h"
#include "aldis/label.h"
#include "aldis/module.h"

/* Bounds on hostile input: how deep the search for <securitylabel/> goes
 * (the stream parser allows at most 256 levels, config max_depth; stored
 * copies wrapped by the server add a few: MAM result, forwarded, carbons)
 * and how many labels one stanza may carry. A stanza beyond either bound is
 * refused as malformed, never partly checked. */
#define SECURITY_LABEL_DEPTH_MAX 300
#define SECURITY_LABELS_MAX 16

/* The path a decision is made for, as written in audit lines. */
enum security_path {
    SECURITY_PATH_SEND = 0,  /* a client sending (its own clearance) */
    SECURITY_PATH_INBOUND,   /* at the recipient's owner, before any module */
    SECURITY_PATH_DELIVER,   /* written to a client session (last defence) */
    SECURITY_PATH_OFFLINE,   /* stored offline message delivered at login */
    SECURITY_PATH_ARCHIVE,   /* MAM query result */
    SECURITY_PATH_PUBSUB,    /* PEP/PubSub item retrieval or notification */
    SECURITY_PATH_MUC,       /* room join, message, history, private message */
    SECURITY_PATH_CATALOG,   /* XEP-0258 catalog request */
    SECURITY_PATH_UPLOAD,    /* XEP-0363 download of a labelled file */
    SECURITY_PATH_PEER,      /* to another domain (federation, components) */
    SECURITY_PATH_COUNT
};

/* Outcome of a check (0 = permit). */
enum security_verdict {
    SECURITY_PERMIT = 0,
    SECURITY_DENY = 1,      /* clearance does not permit the label */
    SECURITY_MALFORMED = 2, /* unparsable / unknown-policy / too many labels */
};

/* Load the policy named by cfg->security_policy (NULL: labels off, every
 * check permits), the default label and open the audit log. Returns 0 or
 * ALDIS_ECONFIG with a message. Called once by mod_labels' init. */
int security_start(const struct config *cfg, char *err, size_t errlen);
void security_stop(void);
/* Is a policy loaded (labels enforced)? */
bool security_active(void);
const struct label_policy *security_policy(void);
/* The clearance of holders with none set (clearance_default), or NULL
 * when inactive. Borrowed, immutable. */
const struct clearance *security_default_clearance(void);

/* ---- the decision over a stanza (pure, unit-tested) --------------------- */

/* Collect every <securitylabel xmlns=LABEL_NS/> in `root` (the stanza and
 * everything nested in it, e.g. forwarded copies) down to `max_depth`
 * levels. Returns the number found (up to `max`), or -1 when there are more
 * than `max` or one sits deeper than max_depth (the caller refuses). */
int security_labels_find(const struct xml_node *root, const struct xml_node **found, int max,
                         int max_depth);

/* Decide whether clearance `c` may receive `root`: every label in it must
 * be permitted; a stanza without any takes `dflt` (skipped when
 * `dflt_is_floor`: every clearance holds it). `label_out` gets the
 * classification of the first label that failed (or of the last checked),
 * `why` the reason. */
enum security_verdict security_decide(const struct label_policy *p, const struct label *dflt,
                                      bool dflt_is_floor, const struct clearance *c,
                                      const struct xml_node *root, char *label_out,
                                      size_t label_size, char *why, size_t whylen);

/* One audit line, without the newline: "TIME DECISION path=P from=F to=T
 * label=L reason=R". Values are sanitised (control characters and spaces
 * in from/to/label become '_'; the reason keeps spaces but loses control
 * characters) so one event is always one line. Returns its length. */
size_t security_audit_format(char *out, size_t size, time_t when, const char *decision,
                             enum security_path path, const char *from, const char *to,
                             const char *label, const char *reason);
const char *security_path_name(enum security_path path);

/* ---- the checks the delivery paths call (each a one-line call) --------- */

/* The clearance held by an account (its owner worker only): the one
 * mod_labels loaded, or the default. */
const struct clearance *security_account_clearance(const struct account *acct);

/* Check a stanza for `c` on `path`; audit denies (and permitted labelled
 * deliveries when security.audit_deliveries is on). `text` (may be NULL)
 * receives the human-readable reason for the sender's error. Returns the
 * verdict. Cheap when labels are off or the stanza carries none. */
enum security_verdict security_check(const struct clearance *c, const struct stanza *st,
                                     enum security_path path, const char *from, const char *to,
                                     char *text, size_t textlen);

/* (a) At the recipient account's owner, before any hook: 0 to go on, or
 * ALDIS_EAUTH when refused (the sender has had its stanza error). */
int security_account_inbound(struct account *acct, struct stanza *st);
/* (b) A client sending: its clearance must permit every label it puts on
 * a stanza and the labels must be well-formed. 0, or ALDIS_EAUTH after
 * answering the client with the error. */
int security_session_send(struct session *s, struct stanza *st);
/* (c) The last check before a stanza is written to a client: 0 to write
 * it, ALDIS_EAUTH to drop it (audited). */
int security_session_deliver(struct session *s, struct stanza *st);
/* (d) Stored content read back for an account (offline, archive) or a
 * requester (PubSub): 0 when the holder may see it. */
int security_account_permits(const struct account *acct, const struct stanza *st,
                             enum security_path path);
/* For holders on another worker (rooms, PubSub services answering a
 * requester): may `jid` (bare or full; its clearance as last known to the
 * shared cache, see security_subject_update) see stanza `st` / the element
 * `item` (a PubSub <item/>)? Denies are audited with `source` as the
 * sender. Any worker. */
int security_subject_permits(const char *jid, const struct stanza *st, enum security_path path,
                             const char *source);
bool security_item_visible(const char *jid, const struct xml_node *item, const char *service);
/* The same for any element carrying labels (an uploaded file's stored
 * <securitylabel/>, say) on `path`; jid NULL is an anonymous requester,
 * who holds the policy's lowest clearance. */
bool security_element_visible(const char *jid, const struct xml_node *el, enum security_path path,
                              const char *source);

/* ---- peer domains --------------------------------------------------------- */

/* May stanza `st` leave for the domain `domain` (a peer server, later a
 * component), given the clearance stored for the domain (`aldisctl domain
 * clearance`; none: the lowest)? 0, or ALDIS_EAUTH with `text` for the
 * sender (audited). Any worker: reads the shared cache. */
int security_peer_permits(const char *domain, const struct stanza *st, char *text,
                          size_t textlen);

/* ---- rooms (MUC) --------------------------------------------------------- */

/* SIGHUP: read every stored clearance again into the shared cache (rooms,
 * peer domains, users as seen by rooms and services); an account's own
 * copy is read again when the account next loads. Main thread. */
int security_clearances_reload(const struct config *cfg, char *err, size_t errlen);
/* Refresh the shared cache's clearance of `bare` (NULL: none, the lowest);
 * mod_labels calls it whenever it loads an account's clearance. The cache
 * starts with every stored clearance (rooms included) at startup. */
void security_subject_update(const char *bare, const struct clearance *c);

/* A room's clearance is its ceiling (a room without one has the lowest).
 * Joining requires an occupant clearance that covers the room's (audited
 * when refused); a message to the room whose label the room's clearance
 * does not permit is refused (`text` gets the reason for the sender). Any
 * worker; they read the shared cache. */
bool security_room_join_allowed(const char *room_jid, const char *occupant_bare);
enum security_verdict security_room_message(const char *room_jid, const struct stanza *st,
                                            const char *from, char *text, size_t textlen);

/* ---- clearances from client certificates --------------------------------- */

/* A SASL EXTERNAL login of `bare` with a certificate whose
 * subjectDirectoryAttributes extension value is der/len (NULL: none): with
 * security.certificate_clearance on, its RFC 5755 clearance attribute
 * becomes the account's clearance (stored, as `aldisctl user clearance`
 * would) before the session binds. An unusable one keeps the stored
 * clearance (logged and audited). Session worker. */
void security_certificate_clearance(struct host *h, const char *bare, const unsigned char *der,
                                    size_t len);

/* ---- session clearance (set by mod_labels) ------------------------------ */

/* Give a session its clearance (takes ownership; session worker only). */
void security_session_clearance_set(struct session *s, struct clearance *c);
const struct clearance *security_session_clearance(struct session *s);

#endif
