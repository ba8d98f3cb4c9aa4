/* label_binding.c - STANAG 4778 metadata binding of a stanza's security
 * label to its body, as an XML Signature (xmlsec1, OpenSSL backend).
 *
 * ADatP-4778 is not public; what is implemented is the most faithful form
 * we can build from its published outline (a MetadataBindingContainer
 * holding MetadataBinding references to the metadata and the data, and a
 * BindingInformation with an XML Signature over both). On the wire, a
 * stanza carries:
 *
 *   <MetadataBindingContainer xmlns=BINDING_NS>
 *     <MetadataBinding>
 *       <MetadataReference URI='#aldis-label'/>  the stanza's <securitylabel/>
 *       <DataReference URI='#aldis-data'/>       the stanza's <body/> elements
 *     </MetadataBinding>
 *     <BindingInformation><ds:Signature>...</ds:Signature></BindingInformation>
 *   </MetadataBindingContainer>
 *
 * The referenced content is not repeated: signer and verifier both rebuild
 * the same binding document from the stanza (<Metadata ID='aldis-label'>
 * with the first <securitylabel/>, <Data ID='aldis-data'> with the bodies,
 * each serialised by our deterministic serialiser, then exclusive-c14n
 * canonicalised by the signature), so a changed label or body no longer
 * matches the digests. The signature must hold exactly those two
 * same-document references, with only exclusive c14n transforms. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <xmlsec/crypto.h>
#include <xmlsec/errors.h>
#include <xmlsec/templates.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>

#include "aldis/error.h"
#include "label_internal.h"

#define BINDING_NS "urn:nato:stanag:4778:bindinginformation:1:0"
#define BINDING_DOC_MAX (1u << 20)
#define REF_LABEL "#aldis-label"
#define REF_DATA "#aldis-data"

static pthread_once_t sec_once = PTHREAD_ONCE_INIT;
static int sec_rc;
/* xmlsec1-openssl 1.2 converts certificate times with gmtime() and
 * mktime() (shared static state; ThreadSanitizer shows the race when
 * workers verify at once), so the xmlsec part of a sign or verify runs
 * under this lock. It guards no data of ours. */
static pthread_mutex_t sec_lock = PTHREAD_MUTEX_INITIALIZER;

/* xmlsec is initialised once for the process and then used per call with
 * its own contexts and keys manager, which the library allows from any
 * thread. */
/* xmlsec reports every failed check on stderr by default; a failed
 * verification is an ordinary outcome here, reported through `why`. */
static void sec_quiet(const char *file, int line, const char *func, const char *object,
                      const char *subject, int reason, const char *msg)
{
    (void)file, (void)line, (void)func, (void)object, (void)subject, (void)reason, (void)msg;
}

static void sec_init(void)
{
    xmlInitParser();
    if (xmlSecInit() < 0 || xmlSecCheckVersion() != 1 || xmlSecCryptoAppInit(NULL) < 0 ||
        xmlSecCryptoInit() < 0)
        sec_rc = -1;
    xmlSecErrorsSetCallback(sec_quiet); /* after xmlSecInit, which sets the default */
}

static int sec_ready(char *why, size_t whylen)
{
    pthread_once(&sec_once, sec_init);
    if (sec_rc < 0) {
        label__why(why, whylen, "xmlsec initialisation failed");
        return ALDIS_EIO;
    }
    return 0;
}

/* The binding document rebuilt from the stanza; `signature` (serialised
 * ds:Signature) may be NULL when signing. */
static int binding_doc(const struct xml_node *stanza, const char *signature, struct buf *out,
                       char *why, size_t whylen)
{
    const struct xml_node *sl = xml_child(stanza, "securitylabel", LABEL_NS);
    if (!sl) {
        label__why(why, whylen, "binding without a security label");
        return ALDIS_EAUTH;
    }
    buf_adds(out, "<MetadataBindingContainer xmlns='" BINDING_NS "'><Metadata ID='aldis-label'>");
    xml_serialize(sl, NULL, out);
    buf_adds(out, "</Metadata><Data ID='aldis-data'>");
    for (const struct xml_node *b = xml_child(stanza, "body", NULL); b;
         b = xml_next(b, "body", NULL))
        xml_serialize(b, NULL, out);
    buf_adds(out, "</Data><BindingInformation>");
    if (signature)
        buf_adds(out, signature);
    buf_adds(out, "</BindingInformation></MetadataBindingContainer>");
    if (out->len > BINDING_DOC_MAX) {
        label__why(why, whylen, "binding document larger than %u bytes", BINDING_DOC_MAX);
        return ALDIS_ELIMIT;
    }
    return 0;
}

static void doc_add_ids(xmlDoc *doc)
{
    static const xmlChar *ids[] = {(const xmlChar *)"ID", NULL};
    xmlSecAddIDs(doc, xmlDocGetRootElement(doc), ids);
}

/* Only same-document references and exclusive c14n: no XPath, XSLT or
 * external fetches from an attacker's signature. */
static int restrict_ctx(xmlSecDSigCtxPtr ctx)
{
    ctx->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
    if (xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformExclC14NId) < 0 ||
        xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha256Id) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformExclC14NId) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformSha256Id) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformRsaSha256Id) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformEcdsaSha256Id) < 0)
        return -1;
    return 0;
}

int label_binding_verify(const struct label_policy *p, const struct xml_node *stanza,
                         const char *trusted_ca, bool *bound, char *why, size_t whylen)
{
    *bound = false;
    const struct xml_node *container = xml_child(stanza, "MetadataBindingContainer", BINDING_NS);
    if (!container)
        return 0;
    *bound = true;
    int rc = sec_ready(why, whylen);
    if (rc < 0)
        return rc;
    if (xml_next(container, "MetadataBindingContainer", BINDING_NS)) {
        label__why(why, whylen, "more than one binding");
        return ALDIS_EAUTH;
    }
    const struct xml_node *mb = xml_child(container, "MetadataBinding", BINDING_NS);
    const struct xml_node *mref = mb ? xml_child(mb, "MetadataReference", BINDING_NS) : NULL;
    const struct xml_node *dref = mb ? xml_child(mb, "DataReference", BINDING_NS) : NULL;
    const struct xml_node *info = xml_child(container, "BindingInformation", BINDING_NS);
    const struct xml_node *sig = info ? xml_child(info, "Signature", (const char *)xmlSecDSigNs) : NULL;
    if (!mref || !dref || !sig || !xml_attr(mref, "URI") || !xml_attr(dref, "URI") ||
        strcmp(xml_attr(mref, "URI"), REF_LABEL) != 0 ||
        strcmp(xml_attr(dref, "URI"), REF_DATA) != 0) {
        label__why(why, whylen, "binding: malformed MetadataBindingContainer");
        return ALDIS_EAUTH;
    }
    /* the bound label must be one this policy understands */
    const struct xml_node *sl = xml_child(stanza, "securitylabel", LABEL_NS);
    struct label *l = NULL;
    char lwhy[160];
    if (!sl) {
        label__why(why, whylen, "binding without a security label");
        return ALDIS_EAUTH;
    }
    if (label_from_xep0258(p, sl, &l, lwhy, sizeof lwhy) < 0) {
        label__why(why, whylen, "binding: bound label not acceptable: %s", lwhy);
        return ALDIS_EAUTH;
    }
    label_free(l);

    struct buf sigtext, docbuf;
    buf_init(&sigtext);
    buf_init(&docbuf);
    xmlDoc *doc = NULL;
    xmlSecKeysMngrPtr mngr = NULL;
    xmlSecDSigCtxPtr ctx = NULL;
    bool locked = false;
    rc = ALDIS_EAUTH;
    xml_serialize(sig, NULL, &sigtext);
    if (binding_doc(stanza, buf_cstr(&sigtext), &docbuf, why, whylen) < 0)
        goto out;
    char msg[160];
    doc = label__xml_read(docbuf.data, docbuf.len, BINDING_DOC_MAX, msg, sizeof msg);
    if (!doc) {
        label__why(why, whylen, "binding: %s", msg);
        goto out;
    }
    doc_add_ids(doc);
    xmlNode *signode = xmlSecFindNode(xmlDocGetRootElement(doc), xmlSecNodeSignature, xmlSecDSigNs);
    pthread_mutex_lock(&sec_lock);
    locked = true;
    mngr = xmlSecKeysMngrCreate();
    if (!signode || !mngr || xmlSecCryptoAppDefaultKeysMngrInit(mngr) < 0) {
        label__why(why, whylen, "binding: cannot set up verification");
        rc = ALDIS_EIO;
        goto out;
    }
    if (trusted_ca && xmlSecCryptoAppKeysMngrCertLoad(mngr, trusted_ca, xmlSecKeyDataFormatPem,
                                                      xmlSecKeyDataTypeTrusted) < 0) {
        label__why(why, whylen, "binding: cannot load trusted CA %s", trusted_ca);
        rc = ALDIS_EIO;
        goto out;
    }
    ctx = xmlSecDSigCtxCreate(mngr);
    if (!ctx || restrict_ctx(ctx) < 0) {
        rc = ALDIS_EIO;
        goto out;
    }
    /* Keys come from the signature's KeyInfo only, never fetched. With a
     * trust anchor only a certificate chaining to it is accepted (a bare
     * KeyValue would bypass the anchor). Without one the signer's
     * certificate or key is taken as given: the binding then proves that
     * label and body were not changed since, not who signed. */
    ctx->keyInfoReadCtx.retrievalMethodCtx.enabledUris = xmlSecTransformUriTypeNone;
    if (xmlSecPtrListAdd(&ctx->keyInfoReadCtx.enabledKeyData, (xmlSecPtr)xmlSecKeyDataX509Id) < 0 ||
        (!trusted_ca &&
         (xmlSecPtrListAdd(&ctx->keyInfoReadCtx.enabledKeyData, (xmlSecPtr)xmlSecKeyDataRsaId) < 0 ||
          xmlSecPtrListAdd(&ctx->keyInfoReadCtx.enabledKeyData, (xmlSecPtr)xmlSecKeyDataEcdsaId) < 0))) {
        rc = ALDIS_EIO;
        goto out;
    }
    if (!trusted_ca)
        ctx->keyInfoReadCtx.flags |= XMLSEC_KEYINFO_FLAGS_X509DATA_DONT_VERIFY_CERTS;
    if (xmlSecDSigCtxVerify(ctx, signode) < 0 || ctx->status != xmlSecDSigStatusSucceeded) {
        label__why(why, whylen, "binding: signature does not verify (label or body changed, "
                                "or untrusted signer)");
        goto out;
    }
    /* exactly our two references, each verified */
    xmlSecSize n = xmlSecPtrListGetSize(&ctx->signedInfoReferences);
    bool have_label = false, have_data = false;
    for (xmlSecSize i = 0; i < n; i++) {
        xmlSecDSigReferenceCtxPtr r = xmlSecPtrListGetItem(&ctx->signedInfoReferences, i);
        if (!r || !r->uri || r->status != xmlSecDSigStatusSucceeded)
            continue;
        if (strcmp((const char *)r->uri, REF_LABEL) == 0)
            have_label = true;
        else if (strcmp((const char *)r->uri, REF_DATA) == 0)
            have_data = true;
    }
    if (n != 2 || !have_label || !have_data) {
        label__why(why, whylen, "binding: signature does not cover exactly the label and body");
        goto out;
    }
    rc = 0;
out:
    if (ctx)
        xmlSecDSigCtxDestroy(ctx);
    if (mngr)
        xmlSecKeysMngrDestroy(mngr);
    if (locked)
        pthread_mutex_unlock(&sec_lock);
    if (doc)
        xmlFreeDoc(doc);
    buf_free(&sigtext);
    buf_free(&docbuf);
    return rc;
}

/* PEM text when it looks like PEM, otherwise a file name. */
static xmlSecKeyPtr load_key(const char *key_pem, const char *cert_pem)
{
    bool mem = strncmp(key_pem, "-----BEGIN", 10) == 0;
    xmlSecKeyPtr key = mem ? xmlSecCryptoAppKeyLoadMemory((const xmlSecByte *)key_pem,
                                                          (xmlSecSize)strlen(key_pem),
                                                          xmlSecKeyDataFormatPem, NULL, NULL, NULL)
                           : xmlSecCryptoAppKeyLoad(key_pem, xmlSecKeyDataFormatPem, NULL, NULL,
                                                    NULL);
    if (!key || !cert_pem)
        return key;
    int rc = strncmp(cert_pem, "-----BEGIN", 10) == 0
                 ? xmlSecCryptoAppKeyCertLoadMemory(key, (const xmlSecByte *)cert_pem,
                                                    (xmlSecSize)strlen(cert_pem),
                                                    xmlSecKeyDataFormatPem)
                 : xmlSecCryptoAppKeyCertLoad(key, cert_pem, xmlSecKeyDataFormatPem);
    if (rc < 0) {
        xmlSecKeyDestroy(key);
        return NULL;
    }
    return key;
}

static int add_ref(xmlNode *signode, const char *uri)
{
    xmlNode *ref = xmlSecTmplSignatureAddReference(signode, xmlSecTransformSha256Id, NULL,
                                                   (const xmlChar *)uri, NULL);
    return ref && xmlSecTmplReferenceAddTransform(ref, xmlSecTransformExclC14NId) ? 0 : -1;
}

int label_binding_sign(const struct label_policy *p, const struct label *l, struct stanza *st,
                       const char *key_pem, const char *cert_pem, char *why, size_t whylen)
{
    int rc = sec_ready(why, whylen);
    if (rc < 0)
        return rc;
    if (!key_pem || !cert_pem) {
        label__why(why, whylen, "signing needs a key and its certificate");
        return ALDIS_EINVAL;
    }
    if (xml_child(st->root, "MetadataBindingContainer", BINDING_NS)) {
        label__why(why, whylen, "stanza already carries a binding");
        return ALDIS_EEXIST;
    }
    /* The label bound is the one the stanza carries; attach `l` if it
     * carries none, refuse if it carries another. */
    const struct xml_node *sl = xml_child(st->root, "securitylabel", LABEL_NS);
    if (sl) {
        struct label *have = NULL;
        rc = label_from_xep0258(p, sl, &have, why, whylen);
        bool same = rc == 0 && label_equal(have, l);
        label_free(have);
        if (!same) {
            label__why(why, whylen, "stanza carries a different label");
            return ALDIS_EINVAL;
        }
    } else if ((rc = label_attach(p, l, LABEL_FORMAT_ESS, st, st->root)) < 0) {
        label__why(why, whylen, "label not valid under the policy");
        return rc;
    }

    struct buf docbuf, out;
    buf_init(&docbuf);
    buf_init(&out);
    xmlDoc *doc = NULL;
    xmlSecDSigCtxPtr ctx = NULL;
    xmlSecKeyPtr key = NULL;
    bool locked = false;
    rc = ALDIS_EIO;
    if ((rc = binding_doc(st->root, NULL, &docbuf, why, whylen)) < 0)
        goto out;
    rc = ALDIS_EIO;
    char msg[160];
    doc = label__xml_read(docbuf.data, docbuf.len, BINDING_DOC_MAX, msg, sizeof msg);
    if (!doc) {
        label__why(why, whylen, "binding: %s", msg);
        goto out;
    }
    doc_add_ids(doc);
    pthread_mutex_lock(&sec_lock);
    locked = true;
    key = load_key(key_pem, cert_pem);
    if (!key) {
        label__why(why, whylen, "binding: cannot load the signing key or certificate");
        goto out;
    }
    xmlSecTransformId alg;
    if (xmlSecKeyDataCheckId(xmlSecKeyGetValue(key), xmlSecKeyDataRsaId))
        alg = xmlSecTransformRsaSha256Id;
    else if (xmlSecKeyDataCheckId(xmlSecKeyGetValue(key), xmlSecKeyDataEcdsaId))
        alg = xmlSecTransformEcdsaSha256Id;
    else {
        label__why(why, whylen, "binding: the signing key must be RSA or EC");
        goto out;
    }
    xmlNode *signode = xmlSecTmplSignatureCreate(doc, xmlSecTransformExclC14NId, alg, NULL);
    xmlNode *bi = xmlSecFindNode(xmlDocGetRootElement(doc), (const xmlChar *)"BindingInformation",
                                 (const xmlChar *)BINDING_NS);
    if (!signode || !bi || !xmlAddChild(bi, signode) || add_ref(signode, REF_LABEL) < 0 ||
        add_ref(signode, REF_DATA) < 0) {
        label__why(why, whylen, "binding: cannot build the signature template");
        goto out;
    }
    /* the signer's certificate, so a verifier can check it against its
     * trust anchor */
    xmlNode *ki = xmlSecTmplSignatureEnsureKeyInfo(signode, NULL);
    if (!ki || !xmlSecTmplKeyInfoAddX509Data(ki)) {
        label__why(why, whylen, "binding: cannot build KeyInfo");
        goto out;
    }
    ctx = xmlSecDSigCtxCreate(NULL);
    if (!ctx || restrict_ctx(ctx) < 0) {
        label__why(why, whylen, "binding: cannot create the signature context");
        goto out;
    }
    ctx->signKey = key;
    key = NULL; /* owned by ctx now */
    if (xmlSecDSigCtxSign(ctx, signode) < 0) {
        label__why(why, whylen, "binding: signing failed");
        goto out;
    }
    /* the wire form: references and the signature, not the content */
    xmlBuffer *xb = xmlBufferCreate();
    ALDIS_ASSERT(xb);
    xmlNodeDump(xb, doc, signode, 0, 0);
    buf_adds(&out, "<MetadataBindingContainer xmlns='" BINDING_NS "'><MetadataBinding>"
                   "<MetadataReference URI='" REF_LABEL "'/><DataReference URI='" REF_DATA "'/>"
                   "</MetadataBinding><BindingInformation>");
    buf_add(&out, xmlBufferContent(xb), (size_t)xmlBufferLength(xb));
    buf_adds(&out, "</BindingInformation></MetadataBindingContainer>");
    xmlBufferFree(xb);
    struct stanza *tmp = stanza_parse(out.data, out.len);
    if (!tmp) {
        label__why(why, whylen, "binding: cannot re-read the signature");
        goto out;
    }
    xml_copy_into(st, st->root, tmp->root);
    stanza_unref(tmp);
    rc = 0;
out:
    if (key)
        xmlSecKeyDestroy(key);
    if (ctx)
        xmlSecDSigCtxDestroy(ctx);
    if (locked)
        pthread_mutex_unlock(&sec_lock);
    if (doc)
        xmlFreeDoc(doc);
    buf_free(&docbuf);
    buf_free(&out);
    return rc;
}
