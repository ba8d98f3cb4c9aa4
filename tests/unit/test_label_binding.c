/* test_label_binding.c - STANAG 4778 binding of a label to a stanza's body
 * (src/labels/label_binding.c): sign then verify, across a wire round trip,
 * with and without a trust anchor; a changed body or label, or an untrusted
 * signer, is ALDIS_EAUTH. The key and certificate are made here with
 * OpenSSL for each run, never committed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <unistd.h>

#include "aldis/buf.h"
#include "aldis/xml.h"
#include "label_fixture.h"

static struct label_policy *pol;

struct keypair {
    char *key_pem, *cert_pem;
};

static char *bio_text(BIO *bio)
{
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    char *s = malloc((size_t)len + 1);
    memcpy(s, data, (size_t)len);
    s[len] = '\0';
    return s;
}

/* An EC P-256 key and a self-signed certificate for it. */
static void keypair_make(struct keypair *kp, const char *cn)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    assert_non_null(key);
    X509 *x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, name);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
    assert_true(PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) == 1);
    assert_true(PEM_write_bio_X509(cb, x) == 1);
    kp->key_pem = bio_text(kb);
    kp->cert_pem = bio_text(cb);
    BIO_free(kb);
    BIO_free(cb);
    X509_free(x);
    EVP_PKEY_free(key);
}

static void keypair_free(struct keypair *kp)
{
    free(kp->key_pem);
    free(kp->cert_pem);
}

static struct stanza *wire_round_trip(struct stanza *st)
{
    char *text = stanza_to_string(st, NULL);
    struct stanza *again = stanza_parse(text, strlen(text));
    free(text);
    assert_non_null(again);
    stanza_unref(st);
    return again;
}

static struct stanza *signed_message(struct keypair *kp, struct label *l)
{
    const char *msg = "<message xmlns='jabber:client' to='b@example.org' from='a@example.org/r'>"
                      "<body>attack at dawn</body></message>";
    struct stanza *st = stanza_parse(msg, strlen(msg));
    char why[256] = "";
    int rc = label_binding_sign(pol, l, st, kp->key_pem, kp->cert_pem, why, sizeof why);
    if (rc != 0)
        fprintf(stderr, "sign: %s\n", why);
    assert_int_equal(rc, 0);
    return wire_round_trip(st);
}

static char *write_temp(const char *text)
{
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char *path = malloc(strlen(dir) + 32);
    sprintf(path, "%s/aldis-test-ca-XXXXXX", dir);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_sign_verify(void **state)
{
    (void)state;
    struct keypair kp, other;
    keypair_make(&kp, "aldis.example.org");
    keypair_make(&other, "someone-else");
    struct label *l = label_fixture_make(pol, "SECRET", "Releasable To=GBR,USA", NULL);
    struct stanza *st = signed_message(&kp, l);
    char why[256] = "";
    bool bound = false;
    int rc = label_binding_verify(pol, st->root, NULL, &bound, why, sizeof why);
    if (rc)
        fprintf(stderr, "verify: %s\n", why);
    assert_int_equal(rc, 0);
    assert_true(bound);

    /* the stanza's label is the bound one */
    struct label *got = NULL;
    assert_int_equal(label_from_stanza(pol, st->root, &got, why, sizeof why), 0);
    assert_true(label_equal(got, l));
    label_free(got);

    /* with the signer's certificate as trust anchor; and with another one */
    char *ca = write_temp(kp.cert_pem), *bad_ca = write_temp(other.cert_pem);
    assert_int_equal(label_binding_verify(pol, st->root, ca, &bound, why, sizeof why), 0);
    assert_int_equal(label_binding_verify(pol, st->root, bad_ca, &bound, why, sizeof why),
                     ALDIS_EAUTH);
    unlink(ca);
    unlink(bad_ca);
    free(ca);
    free(bad_ca);

    /* a binding names its signer: no certificate, no signature */
    const char *plainmsg = "<message xmlns='jabber:client'><body>x</body></message>";
    struct stanza *bare = stanza_parse(plainmsg, strlen(plainmsg));
    assert_int_equal(label_binding_sign(pol, l, bare, kp.key_pem, NULL, why, sizeof why),
                     ALDIS_EINVAL);
    stanza_unref(bare);

    /* no second binding */
    assert_int_equal(label_binding_sign(pol, l, st, kp.key_pem, kp.cert_pem, why, sizeof why),
                     ALDIS_EEXIST);
    stanza_unref(st);
    label_free(l);
    keypair_free(&kp);
    keypair_free(&other);
}

static struct stanza *replace(struct stanza *st, const char *from, const char *to)
{
    char *text = stanza_to_string(st, NULL);
    char *at = strstr(text, from);
    assert_non_null(at);
    struct buf b;
    buf_init(&b);
    buf_add(&b, text, (size_t)(at - text));
    buf_adds(&b, to);
    buf_adds(&b, at + strlen(from));
    struct stanza *changed = stanza_parse(b.data, b.len);
    assert_non_null(changed);
    buf_free(&b);
    free(text);
    return changed;
}

static void test_tampering(void **state)
{
    (void)state;
    struct keypair kp;
    keypair_make(&kp, "aldis.example.org");
    struct label *l = label_fixture_make(pol, "SECRET", "Releasable To=GBR,USA", NULL);
    struct stanza *st = signed_message(&kp, l);
    char why[256];
    bool bound;

    /* the body changed */
    struct stanza *t1 = replace(st, "attack at dawn", "attack at dusk");
    assert_int_equal(label_binding_verify(pol, t1->root, NULL, &bound, why, sizeof why),
                     ALDIS_EAUTH);
    assert_true(bound);
    stanza_unref(t1);

    /* the label replaced by another valid one (the marking too) */
    struct buf want;
    buf_init(&want);
    assert_int_equal(label_to_xep0258(pol, l, LABEL_FORMAT_ESS, &want), 0);
    struct label *lower = label_fixture_make(pol, "UNCLASSIFIED", NULL, NULL);
    struct buf lowerb;
    buf_init(&lowerb);
    assert_int_equal(label_to_xep0258(pol, lower, LABEL_FORMAT_ESS, &lowerb), 0);
    struct stanza *t2 = replace(st, want.data, lowerb.data);
    assert_int_equal(label_binding_verify(pol, t2->root, NULL, &bound, why, sizeof why),
                     ALDIS_EAUTH);
    stanza_unref(t2);
    buf_free(&want);
    buf_free(&lowerb);
    label_free(lower);

    /* a second body added */
    struct stanza *t3 = replace(st, "</body>", "</body><body xml:lang='fr'>rien</body>");
    assert_int_equal(label_binding_verify(pol, t3->root, NULL, &bound, why, sizeof why),
                     ALDIS_EAUTH);
    stanza_unref(t3);

    /* a reference pointed elsewhere */
    struct stanza *t4 = replace(st, "DataReference URI='#aldis-data'", "DataReference URI='#x'");
    assert_int_equal(label_binding_verify(pol, t4->root, NULL, &bound, why, sizeof why),
                     ALDIS_EAUTH);
    stanza_unref(t4);

    /* the label removed, the binding left */
    struct stanza *t7 = stanza_copy(st);
    xml_remove(xml_child(t7->root, "securitylabel", LABEL_NS));
    assert_int_equal(label_binding_verify(pol, t7->root, NULL, &bound, why, sizeof why),
                     ALDIS_EAUTH);
    stanza_unref(t7);

    /* no binding at all: fine, and said so */
    const char *plain = "<message xmlns='jabber:client'><body>x</body></message>";
    struct stanza *t5 = stanza_parse(plain, strlen(plain));
    bound = true;
    assert_int_equal(label_binding_verify(pol, t5->root, NULL, &bound, why, sizeof why), 0);
    assert_false(bound);
    stanza_unref(t5);

    /* signing a stanza that already carries a different label */
    struct label *other = label_fixture_make(pol, "CONFIDENTIAL", NULL, NULL);
    struct stanza *t6 = stanza_copy(st);
    xml_remove(xml_child(t6->root, "MetadataBindingContainer", NULL));
    assert_int_equal(label_binding_sign(pol, other, t6, kp.key_pem, kp.cert_pem, why, sizeof why),
                     ALDIS_EINVAL);
    stanza_unref(t6);
    label_free(other);

    stanza_unref(st);
    label_free(l);
    keypair_free(&kp);
}

/* Workers verify bindings concurrently: xmlsec is initialised once and
 * each call has its own contexts (checked under ThreadSanitizer too). */
struct verify_arg {
    const struct stanza *st;
    int ok;
};

static void *verifier(void *argp)
{
    struct verify_arg *arg = argp;
    for (int i = 0; i < 20; i++) {
        bool bound = false;
        char why[128];
        if (label_binding_verify(pol, arg->st->root, NULL, &bound, why, sizeof why) == 0 && bound)
            arg->ok++;
    }
    return NULL;
}

static void test_concurrent_verify(void **state)
{
    (void)state;
    struct keypair kp;
    keypair_make(&kp, "aldis.example.org");
    struct label *l = label_fixture_make(pol, "CONFIDENTIAL", NULL, NULL);
    struct stanza *st = signed_message(&kp, l);
    struct verify_arg args[3] = {{st, 0}, {st, 0}, {st, 0}};
    pthread_t threads[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, verifier, &args[i]), 0);
    for (int i = 0; i < 3; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(args[i].ok, 20);
    }
    stanza_unref(st);
    label_free(l);
    keypair_free(&kp);
}

static int setup(void **state)
{
    (void)state;
    pol = label_fixture_a();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    label_policy_free(pol);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_concurrent_verify),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
