/* mam.h - what mod_mam (XEP-0313 user archives) offers other modules, and
 * what its own files (mod_mam.c, mam_query.c) share. Owner worker only. */
#ifndef ALDIS_MOD_MAM_H
#define ALDIS_MOD_MAM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aldis/module.h"
#include "aldis/xml.h"

#define NS_MAM "urn:xmpp:mam:2"
#define NS_MAM_EXTENDED "urn:xmpp:mam:2#extended"
#define NS_SID "urn:xmpp:sid:0"
#define NS_RSM "http://jabber.org/protocol/rsm"
#define NS_FORWARD "urn:xmpp:forward:0"
#define NS_DELAY "urn:xmpp:delay"
#define NS_XDATA "jabber:x:data"

/* The archive id mod_mam gave `st` in the sender's archive, when `st` is the
 * message its HOOK_MESSAGE_OUT hook archived last for `acct` (it runs at
 * priority 100: a later HOOK_MESSAGE_OUT hook, e.g. sent carbons at -100,
 * may ask). XEP-0313 §3.5: the stanza-id must not go to the recipient, but
 * SHOULD be inside the forwarded copy of a sent carbon. NULL otherwise or
 * when mod_mam is not enabled on the account's host. */
const char *mam_sent_id(struct account *acct, const struct stanza *st);

/* ---- for other archives (a MUC room's, XEP-0313 §5.1.2) --------------
 * The query side without the account: parse a <query/> (data form filters
 * and RSM paging, exactly as for user archives), build the result messages
 * and the <fin/>. The caller runs store_archive_query itself and routes
 * what these build. */
struct archive_item;
struct archive_page;
struct archive_query;
struct mam_search; /* a parsed query, owning copies of its strings */

/* Parse `query` for the archive of `owner` (borrowed: it must outlive the
 * search). NULL with *out set, or the error condition with *out NULL
 * (mam_error_type gives its type). */
const char *mam_search_parse(const struct xml_node *query, const char *owner,
                             struct mam_search **out);
const struct archive_query *mam_search_query(const struct mam_search *s);
void mam_search_free(struct mam_search *s);
const char *mam_error_type(const char *cond);
/* The search form (§4.1.5) as the result of `iq` (routed). */
void mam_query_form_send(const struct stanza *iq);
/* A <result/> message from `archive` to `to` for one item (§4.2). */
struct stanza *mam_result_build(const char *archive, const char *to, const char *queryid,
                                const struct archive_item *it, const struct stanza *orig);
/* The IQ result with <fin/> and the RSM <set/> of the page (§4.3.2). */
struct stanza *mam_fin_build(const struct stanza *iq, const struct archive_page *p,
                             bool backward);

/* ---- shared by mod_mam.c and mam_query.c ----------------------------- */

/* Page sizes (options mam.page_default, mam.page_max). */
extern long mam__page_default;
extern long mam__page_max;

/* XEP-0082 DateTime <-> microseconds since the epoch. Parse returns 0 or
 * ALDIS_EINVAL; format writes e.g. "2024-05-01T10:00:00.123456Z". */
int mam__time_parse(const char *text, int64_t *us);
void mam__time_format(int64_t us, char *buf, size_t size);

/* Answer an IQ with an error (RFC 6120 §8.3). */
void mam__iq_error(const struct stanza *iq, const char *type, const char *condition);

/* The IQ handlers of mam_query.c: <query/> get (the form) and set (a
 * search), and <metadata/> get. */
int mam__query_iq(struct iq_ctx *ctx);
int mam__metadata_iq(struct iq_ctx *ctx);

#endif
