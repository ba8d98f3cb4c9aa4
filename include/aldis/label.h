/* label.h - security policy, labels, clearances and the one access decision.
 *
 * The contract between the labels library (src/labels/) and everything that
 * enforces it (the delivery choke point, MUC, PubSub, archive, upload).
 * ARCHITECTURE.md section 6; docs/security-labels.md.
 *
 * - A `label_policy` is loaded once from an Open XML SPIF file and is then
 *   immutable: every worker reads it without locks. A reload builds a new one.
 * - A `label` is one parsed security label (policy id, classification,
 *   categories), whatever format it arrived in: XEP-0258 carrying an ESS
 *   security label (RFC 2634 DER, base64) or a STANAG 4774 XML
 *   confidentiality label.
 * - A `clearance` is what a user, room, peer domain or component is cleared
 *   for: classifications and category values under one policy.
 * - label_decide() is THE decision. It is pure (no I/O, no globals) and the
 *   only function anywhere that says permit or deny.
 *
 * All functions return 0 or a negative ALDIS_E* code unless stated; `why`
 * buffers receive a short human-readable reason on failure. Objects are
 * malloc'd, owned by the caller and freed with their *_free function. */
#ifndef ALDIS_LABEL_H
#define ALDIS_LABEL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "aldis/buf.h"
#include "aldis/xml.h"

#define LABEL_NS "urn:xmpp:sec-label:0"                /* XEP-0258 */
#define LABEL_CATALOG_NS "urn:xmpp:sec-label:catalog:2" /* XEP-0258 catalogs */
#define LABEL_ESS_NS "urn:xmpp:sec-label:ess:0"        /* XEP-0258 ESS label */
#define LABEL_4774_NS "urn:nato:stanag:4774:confidentialitymetadatalabel:1:0"

struct label_policy;
struct label;
struct clearance;

/* ---- policy (SPIF) -------------------------------------------------- */

int label_policy_load(const char *path, struct label_policy **out, char *why, size_t whylen);
int label_policy_parse(const char *xml, size_t len, struct label_policy **out, char *why,
                       size_t whylen);
void label_policy_free(struct label_policy *p);
const char *label_policy_id(const struct label_policy *p);   /* the policy OID */
const char *label_policy_name(const struct label_policy *p);
/* The classification name of the lowest level (what an uncleared user holds). */
const char *label_policy_lowest(const struct label_policy *p);
/* `aldisctl policy check`: classifications with levels and colours, category
 * tag sets with their type and values, equivalent policies. */
void label_policy_summary(const struct label_policy *p, FILE *out);

/* ---- labels ---------------------------------------------------------- */

/* The label carried by a stanza: its first <securitylabel xmlns=LABEL_NS>
 * child. *out = NULL and 0 when the stanza carries none (the caller then
 * uses label_default). A present but malformed, unknown-policy or
 * invalid label is an error (ALDIS_EPROTO / ALDIS_EINVAL) with `why`. */
int label_from_stanza(const struct label_policy *p, const struct xml_node *stanza,
                      struct label **out, char *why, size_t whylen);
/* Parse a <securitylabel/> element (XEP-0258 §4) whose <label/> holds an ESS
 * label or a 4774 ConfidentialityLabel; an <equivalentlabel/> under another
 * known policy is mapped when the primary is not under `p`. */
int label_from_xep0258(const struct label_policy *p, const struct xml_node *securitylabel,
                       struct label **out, char *why, size_t whylen);
/* The label for unlabelled content: `classification` (config
 * security.default_label) or, when NULL, the policy's lowest. */
int label_default(const struct label_policy *p, const char *classification, struct label **out);
/* A label made of a classification name and "TAGSET=VALUE" categories, as
 * an administrator or the catalog names it. */
int label_make(const struct label_policy *p, const char *classification,
               const char *const *categories, size_t ncategories, struct label **out,
               char *why, size_t whylen);
struct label *label_dup(const struct label *l);
void label_free(struct label *l);
bool label_equal(const struct label *a, const struct label *b);

enum label_format { LABEL_FORMAT_ESS, LABEL_FORMAT_4774 };
/* A complete <securitylabel xmlns=LABEL_NS> element: <displaymarking> with
 * the policy's fgcolor/bgcolor, <label> in `fmt`. */
int label_to_xep0258(const struct label_policy *p, const struct label *l, enum label_format fmt,
                     struct buf *out);
/* Add the same element as a child of `parent` in `st` (replaces nothing). */
int label_attach(const struct label_policy *p, const struct label *l, enum label_format fmt,
                 struct stanza *st, struct xml_node *parent);
/* ESS security label (RFC 2634 ESSSecurityLabel, DER) with libtasn1. */
int label_to_ess_der(const struct label_policy *p, const struct label *l, unsigned char **der,
                     size_t *len);
int label_from_ess_der(const struct label_policy *p, const unsigned char *der, size_t len,
                       struct label **out, char *why, size_t whylen);
/* STANAG 4774 confidentiality label XML with libxml2. */
int label_to_4774(const struct label_policy *p, const struct label *l, struct buf *out);
int label_from_4774(const struct label_policy *p, const char *xml, size_t len,
                    struct label **out, char *why, size_t whylen);
/* Map to an equivalent policy declared in the SPIF (by its OID). */
int label_map_equivalent(const struct label_policy *p, const struct label *l,
                         const char *policy_id, struct label **out, char *why, size_t whylen);
/* Display marking text ("NATO SECRET RELEASABLE TO GBR, USA"), colours may be NULL. */
const char *label_marking(const struct label_policy *p, const struct label *l, char *buf,
                          size_t size, const char **fgcolor, const char **bgcolor);
/* Classification name of a label (for audit lines and errors). */
const char *label_classification(const struct label_policy *p, const struct label *l);

/* ---- STANAG 4778 binding --------------------------------------------- */

/* If `stanza` carries a 4778 binding of its label to its body, verify the
 * XML signature (xmlsec1) and that it binds exactly this label and body.
 * 0 = no binding present or binding valid (*bound says which); ALDIS_EAUTH =
 * bad or mismatched binding (reject the stanza). `trusted_ca` may be NULL. */
int label_binding_verify(const struct label_policy *p, const struct xml_node *stanza,
                         const char *trusted_ca, bool *bound, char *why, size_t whylen);
/* Add a binding of `l` to the stanza's body, signed with the server's key. */
int label_binding_sign(const struct label_policy *p, const struct label *l, struct stanza *st,
                       const char *key_pem, const char *cert_pem, char *why, size_t whylen);

/* ---- clearances ------------------------------------------------------ */

/* Text form, as stored and as aldisctl takes it:
 * "CLASSIFICATION[;TAGSET=VALUE[,VALUE...]]..." e.g.
 * "SECRET;Releasable To=GBR,USA;Special Handling=CRYPTO". A clearance for a
 * classification covers it and every lower one. */
int clearance_parse(const struct label_policy *p, const char *text, struct clearance **out,
                    char *why, size_t whylen);
int clearance_format(const struct label_policy *p, const struct clearance *c, struct buf *out);
/* What a user with no clearance set holds: the lowest classification only. */
int clearance_default(const struct label_policy *p, struct clearance **out);
/* From an RFC 5755 Clearance attribute (DER) of a client certificate, or
 * from the whole subjectDirectoryAttributes extension value holding one. */
int clearance_from_der(const struct label_policy *p, const unsigned char *der, size_t len,
                       struct clearance **out, char *why, size_t whylen);
/* The subjectDirectoryAttributes extension value (RFC 5280 §4.2.1.8, OID
 * 2.5.29.9) carrying `c` as its id-at-clearance attribute, for client
 * certificates (malloc'd DER in *der). */
int clearance_to_extension_der(const struct clearance *c, unsigned char **der, size_t *len);
struct clearance *clearance_dup(const struct clearance *c);
void clearance_free(struct clearance *c);
/* The highest label the clearance may receive at each classification (for
 * catalogs and for a room's ceiling): true if `c` dominates `other`. */
bool clearance_covers(const struct label_policy *p, const struct clearance *c,
                      const struct clearance *other);

/* ---- the decision ---------------------------------------------------- */

/* Permit (true) or deny (false, with the reason in `why`):
 * - unknown policy or malformed label: deny;
 * - the clearance's classification must dominate the label's;
 * - every restrictive category value on the label must be held;
 * - for each permissive tag set on the label, at least one of its values held;
 * - informative categories are ignored. */
bool label_decide(const struct label_policy *p, const struct clearance *c, const struct label *l,
                  char *why, size_t whylen);

/* ---- XEP-0258 catalog ------------------------------------------------ */

/* Write the <catalog xmlns=LABEL_CATALOG_NS to= name= desc= restrict= size=>
 * element: one <item selector="..."> per label the target may receive
 * (label_decide permits it for `target`), with the default item marked and
 * each item's <securitylabel/> in `fmt`. `restrict_` says whether labels not
 * in the catalog are refused. */
int label_catalog(const struct label_policy *p, const struct clearance *target, const char *to,
                  const char *default_classification, bool restrict_, enum label_format fmt,
                  struct buf *out);

#endif
