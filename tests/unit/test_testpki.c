/*
 * The generated test PKI (include/negoex/testpki.h, src/pku2u/testpki.c):
 *   - the user and device certificates chain to the generated CA through
 *     negoex_x509_verify (strict anchor rules too), within their validity
 *     window only, and never to another generated PKI's CA of the same name;
 *     the Windows-exact CA (only a subjectKeyIdentifier) passes the anchor
 *     rule and fails STRICT_ANCHOR, like the real P2P root;
 *   - EKU, SAN UPN / dNSName, host matching as configured;
 *   - the validity window from the caller's now, lifetimes and backdate;
 *   - names: subject attributes, string types and order as in the Windows
 *     certificates of ../shared/vectors/windows/keys_certs (the CA name,
 *     made for a 2022 time, is byte for byte the real root's), extensions
 *     with the same OIDs, criticality and values;
 *   - keys: size, match, random serial numbers;
 *   - option checks with the field named;
 *   - the files: written, modes, read back by negoex_x509_identity_load (PEM,
 *     PKCS#12 with and without a password), rewritten, refused through a
 *     symbolic link or a missing parent.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "negoex/negoex.h"
#include "negoex/testpki.h"
#include "pku2u/x509.h"
#include "testutil.h"

/* 2026-05-28T20:26:40Z */
#define NOW ((time_t)1780000000)
/* 2022-10-23T21:45:59Z: when the published s7 certificate was valid. */
#define NOW_2022 ((time_t)1666561559)

#define K_CA "windows/keys_certs/p2p_ca_MS-Organization-P2P-Access_2022.der"
#define K_S7 "windows/keys_certs/devmachine_p2p_client_cert_s7_2022-10-23.der"
#define K_SERVER "windows/keys_certs/devmachine_p2p_server_cert_2022-10-23.der"

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */
/* ------------------------------------------------------------------------ */

static void fast_opts(negoex_testpki_options *o)
{
    negoex_testpki_options_init(o);
    o->key_bits = 1024;
}

static negoex_testpki *make(const negoex_testpki_options *o, time_t now)
{
    negoex_testpki *p = NULL;
    negoex_error_info err = {0, 0, NULL};
    int rc = negoex_testpki_new(o, now, &p, &err);
    if (rc != NEGOEX_OK)
        fail_msg("negoex_testpki_new: %s (%s)", negoex_error_name(rc), err.field ? err.field : "");
    assert_non_null(p);
    return p;
}

static negoex_testpki *make_fast(time_t now)
{
    negoex_testpki_options o;
    fast_opts(&o);
    return make(&o, now);
}

static X509 *cert(const negoex_testpki *p, negoex_testpki_entity w)
{
    X509 *x = negoex_testpki_get0_cert(p, w);
    assert_non_null(x);
    return x;
}

static negoex_x509_trust *trust_of(X509 *anchor)
{
    negoex_x509_trust *t = NULL;
    assert_int_equal(negoex_x509_trust_new(&t), NEGOEX_OK);
    assert_int_equal(negoex_x509_trust_add_cert(t, anchor), NEGOEX_OK);
    return t;
}

static int verify_at(const negoex_x509_trust *t, X509 *x, int64_t when, unsigned flags,
                     negoex_x509_verify_result *res)
{
    negoex_x509_verify_opts o = {1, when, flags, 0};
    return negoex_x509_verify(t, x, NULL, &o, res);
}

static void assert_validity(X509 *x, int64_t nb, int64_t na)
{
    int64_t b = 0, a = 0;
    assert_int_equal(negoex_x509_validity(x, &b, &a), NEGOEX_OK);
    assert_int_equal(b, nb);
    assert_int_equal(a, na);
}

static void assert_san(X509 *x, int kind, const char *want)
{
    char buf[256];
    size_t need = 0;
    assert_int_equal(negoex_x509_san_count(x, kind), 1);
    assert_int_equal(negoex_x509_san_get(x, kind, 0, buf, sizeof buf, &need), NEGOEX_OK);
    assert_string_equal(buf, want);
    assert_int_equal(need, strlen(want) + 1);
}

/* The idx-th attribute of the subject: its NID, string type and value. */
static void assert_rdn(X509 *x, int idx, int nid, int type, const char *value)
{
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_ENTRY *e = X509_NAME_get_entry(n, idx);
    assert_non_null(e);
    assert_int_equal(X509_NAME_ENTRY_set(e), idx); /* one attribute per RDN */
    assert_int_equal(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)), nid);
    ASN1_STRING *s = X509_NAME_ENTRY_get_data(e);
    assert_int_equal(ASN1_STRING_type(s), type);
    if (value != NULL) {
        assert_int_equal((size_t)ASN1_STRING_length(s), strlen(value));
        assert_memory_equal(ASN1_STRING_get0_data(s), value, strlen(value));
    }
}

static uint8_t *name_der(const X509_NAME *n, size_t *len)
{
    const unsigned char *der = NULL;
    size_t l = 0;
    assert_int_equal(X509_NAME_get0_der(n, &der, &l), 1);
    *len = l;
    return (uint8_t *)der;
}

static X509 *vector_cert(const char *rel)
{
    size_t n;
    uint8_t *b = tu_load(rel, &n);
    X509 *x = NULL;
    assert_int_equal(negoex_x509_cert_from_der(b, n, &x), NEGOEX_OK);
    free(b);
    return x;
}

/* "S-1-12-1-" then four decimal numbers of at most 10 digits, '-' between. */
static int sid_shaped(const char *s)
{
    if (strncmp(s, "S-1-12-1-", 9) != 0)
        return 0;
    s += 9;
    for (int part = 0; part < 4; part++) {
        size_t d = 0;
        while (s[d] >= '0' && s[d] <= '9')
            d++;
        if (d == 0 || d > 10)
            return 0;
        s += d;
        if (part < 3 && *s++ != '-')
            return 0;
    }
    return *s == '\0';
}

static int guid_shaped(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (size_t i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* chain, EKU, SAN                                                          */
/* ------------------------------------------------------------------------ */

static void test_chain(void **state)
{
    (void)state;
    negoex_testpki *p = make_fast(NOW);
    X509 *ca = cert(p, NEGOEX_TESTPKI_CA), *user = cert(p, NEGOEX_TESTPKI_USER);
    X509 *dev = cert(p, NEGOEX_TESTPKI_DEVICE);
    negoex_x509_trust *t = trust_of(ca);
    negoex_x509_verify_result res;

    for (int strict = 0; strict < 2; strict++) {
        unsigned f = strict ? NEGOEX_X509_STRICT_ANCHOR : 0;
        assert_int_equal(verify_at(t, user, NOW, f, &res), NEGOEX_OK);
        assert_int_equal(res.x509_error, X509_V_OK);
        assert_int_equal(verify_at(t, dev, NOW, f, &res), NEGOEX_OK);
        assert_int_equal(verify_at(t, ca, NOW, f, &res), NEGOEX_OK);
    }
    /* A self-signed CA by OpenSSL's rules, with a key identifier the leaves
     * point at. */
    assert_int_equal(X509_check_ca(ca), 1);
    assert_int_equal(X509_check_issued(ca, ca), X509_V_OK);
    assert_int_equal(X509_check_issued(ca, user), X509_V_OK);
    assert_int_equal(X509_check_issued(ca, dev), X509_V_OK);
    assert_int_equal(X509_check_ca(user), 0);
    assert_int_equal(X509_check_ca(dev), 0);
    assert_non_null(X509_get0_subject_key_id(ca));
    assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(user), X509_get0_subject_key_id(ca)), 0);
    assert_true(X509_get_key_usage(ca) & KU_KEY_CERT_SIGN);

    /* The leaves do not sign: a user certificate as an anchor does not make
     * the device certificate trusted. */
    negoex_x509_trust *t_user = trust_of(user);
    assert_int_equal(verify_at(t_user, dev, NOW, 0, &res), NEGOEX_ERR_CERT_UNTRUSTED);
    negoex_x509_trust_free(t_user);

    /* Another PKI, whose CA has the very same name: nothing crosses. */
    negoex_testpki *q = make_fast(NOW);
    X509 *ca2 = cert(q, NEGOEX_TESTPKI_CA);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(ca), X509_get_subject_name(ca2)), 0);
    negoex_x509_trust *t2 = trust_of(ca2);
    assert_int_equal(verify_at(t2, user, NOW, 0, &res), NEGOEX_ERR_CERT_UNTRUSTED);
    assert_int_equal(verify_at(t2, dev, NOW, 0, &res), NEGOEX_ERR_CERT_UNTRUSTED);
    assert_int_equal(verify_at(t, cert(q, NEGOEX_TESTPKI_USER), NOW, 0, &res), NEGOEX_ERR_CERT_UNTRUSTED);
    assert_int_equal(verify_at(t2, cert(q, NEGOEX_TESTPKI_USER), NOW, 0, &res), NEGOEX_OK);
    /* Random serial numbers: 16 octets, positive, all different. */
    const negoex_testpki *ps[2] = {p, q};
    const ASN1_INTEGER *serials[6];
    for (int i = 0; i < 6; i++) {
        serials[i] = X509_get0_serialNumber(cert(ps[i / 3], (negoex_testpki_entity)(i % 3)));
        assert_int_equal(ASN1_STRING_length(serials[i]), 16);
        assert_int_equal(ASN1_STRING_type(serials[i]), V_ASN1_INTEGER);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(ASN1_INTEGER_cmp(serials[i], serials[j]), 0);
    }
    negoex_x509_trust_free(t2);
    negoex_testpki_free(q);
    negoex_x509_trust_free(t);
    negoex_testpki_free(p);
}

static void test_windows_ca(void **state)
{
    (void)state;
    negoex_testpki_options o;
    fast_opts(&o);
    o.windows_ca = 1;
    negoex_testpki *p = make(&o, NOW);
    X509 *ca = cert(p, NEGOEX_TESTPKI_CA), *user = cert(p, NEGOEX_TESTPKI_USER);
    X509 *dev = cert(p, NEGOEX_TESTPKI_DEVICE);
    /* Only a subjectKeyIdentifier, like the real root; no AKI below it. */
    assert_int_equal(X509_get_ext_count(ca), 1);
    assert_int_equal(X509_get_ext_by_NID(ca, NID_subject_key_identifier, -1), 0);
    assert_int_equal(X509_get_ext_by_NID(user, NID_authority_key_identifier, -1), -1);
    assert_int_equal(X509_get_ext_by_NID(dev, NID_authority_key_identifier, -1), -1);
    assert_int_equal(X509_get_ext_count(user), 4);
    assert_int_equal(X509_get_ext_count(dev), 4);

    negoex_x509_trust *t = trust_of(ca);
    negoex_x509_verify_result res;
    assert_int_equal(verify_at(t, user, NOW, 0, &res), NEGOEX_OK);
    assert_int_equal(verify_at(t, dev, NOW, 0, &res), NEGOEX_OK);
    /* The same verdicts as on the published P2P root (test_pku2u_cms). */
    assert_int_equal(verify_at(t, user, NOW, NEGOEX_X509_STRICT_ANCHOR, &res), NEGOEX_ERR_CERT_INVALID);
    assert_int_equal(res.x509_error, X509_V_ERR_INVALID_CA);
    assert_int_equal(res.depth, 1);
    negoex_x509_trust_free(t);
    negoex_testpki_free(p);
}

static void test_eku(void **state)
{
    (void)state;
    negoex_testpki *p = make_fast(NOW);
    X509 *user = cert(p, NEGOEX_TESTPKI_USER), *dev = cert(p, NEGOEX_TESTPKI_DEVICE);
    X509 *ca = cert(p, NEGOEX_TESTPKI_CA);

    assert_int_equal(negoex_x509_check_eku(user, NEGOEX_OID_KP_CLIENT_AUTH, NEGOEX_OID_KP_CLIENT_AUTH_LEN, 0),
                     NEGOEX_OK);
    assert_int_equal(negoex_x509_check_eku(user, NEGOEX_OID_KP_SERVER_AUTH, NEGOEX_OID_KP_SERVER_AUTH_LEN, 0),
                     NEGOEX_ERR_CERT_EKU);
    assert_int_equal(negoex_x509_check_eku(dev, NEGOEX_OID_KP_SERVER_AUTH, NEGOEX_OID_KP_SERVER_AUTH_LEN, 0),
                     NEGOEX_OK);
    assert_int_equal(negoex_x509_check_eku(dev, NEGOEX_OID_KP_CLIENT_AUTH, NEGOEX_OID_KP_CLIENT_AUTH_LEN, 0),
                     NEGOEX_ERR_CERT_EKU);
    /* No PKINIT purposes, as with Azure AD. */
    for (int i = 0; i < 2; i++) {
        X509 *x = i ? dev : user;
        assert_int_equal(
            negoex_x509_check_eku(x, NEGOEX_OID_KP_PKINIT_CLIENT, NEGOEX_OID_KP_PKINIT_CLIENT_LEN, 0),
            NEGOEX_ERR_CERT_EKU);
        assert_int_equal(negoex_x509_check_eku(x, NEGOEX_OID_KP_PKINIT_KDC, NEGOEX_OID_KP_PKINIT_KDC_LEN, 0),
                         NEGOEX_ERR_CERT_EKU);
    }
    /* The CA has no EKU at all. */
    assert_int_equal(negoex_x509_check_eku(ca, NEGOEX_OID_KP_CLIENT_AUTH, NEGOEX_OID_KP_CLIENT_AUTH_LEN, 0),
                     NEGOEX_ERR_CERT_EKU);
    /* OpenSSL's own purpose checks agree. */
    assert_int_equal(X509_check_purpose(user, X509_PURPOSE_SSL_CLIENT, 0), 1);
    assert_int_equal(X509_check_purpose(user, X509_PURPOSE_SSL_SERVER, 0), 0);
    assert_int_equal(X509_check_purpose(dev, X509_PURPOSE_SSL_SERVER, 0), 1);
    assert_int_equal(X509_check_purpose(dev, X509_PURPOSE_SSL_CLIENT, 0), 0);
    assert_int_equal(X509_get_key_usage(user), KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
    assert_int_equal(X509_get_key_usage(dev), KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
    negoex_testpki_free(p);
}

static void test_san(void **state)
{
    (void)state;
    negoex_testpki_options o;
    fast_opts(&o);
    o.upn = "zo\xc3\xab.m\xc3\xbcller@fabrikam.example";
    o.host = "Peer-7.corp.example";
    negoex_testpki *p = make(&o, NOW);
    X509 *user = cert(p, NEGOEX_TESTPKI_USER), *dev = cert(p, NEGOEX_TESTPKI_DEVICE);

    assert_san(user, NEGOEX_X509_SAN_UPN, o.upn);
    assert_int_equal(negoex_x509_san_count(user, NEGOEX_X509_SAN_DNS), 0);
    assert_san(dev, NEGOEX_X509_SAN_DNS, o.host);
    assert_int_equal(negoex_x509_san_count(dev, NEGOEX_X509_SAN_UPN), 0);
    assert_int_equal(negoex_x509_san_count(cert(p, NEGOEX_TESTPKI_CA), NEGOEX_X509_SAN_DNS), 0);

    assert_int_equal(negoex_x509_match_host(dev, "peer-7.corp.example"), NEGOEX_OK);
    assert_int_equal(negoex_x509_match_host(dev, "PEER-7.CORP.EXAMPLE"), NEGOEX_OK);
    assert_int_equal(negoex_x509_match_host(dev, "peer-8.corp.example"), NEGOEX_ERR_CERT_NAME);
    assert_int_equal(negoex_x509_match_host(dev, "corp.example"), NEGOEX_ERR_CERT_NAME);
    assert_int_equal(negoex_x509_match_host(user, "peer-7.corp.example"), NEGOEX_ERR_CERT_NAME);
    assert_string_equal(negoex_testpki_upn(p), o.upn);
    assert_string_equal(negoex_testpki_host(p), o.host);
    negoex_testpki_free(p);

    /* An IP literal goes in a dNSName, as Windows writes it. */
    o.upn = NEGOEX_TESTPKI_DEFAULT_UPN;
    o.host = "192.168.0.109";
    p = make(&o, NOW);
    dev = cert(p, NEGOEX_TESTPKI_DEVICE);
    assert_san(dev, NEGOEX_X509_SAN_DNS, "192.168.0.109");
    assert_int_equal(negoex_x509_match_host(dev, "192.168.0.109"), NEGOEX_OK);
    assert_int_equal(negoex_x509_match_host(dev, "192.168.0.110"), NEGOEX_ERR_CERT_NAME);
    negoex_testpki_free(p);

    /* The defaults. */
    p = make_fast(NOW);
    assert_san(cert(p, NEGOEX_TESTPKI_USER), NEGOEX_X509_SAN_UPN, NEGOEX_TESTPKI_DEFAULT_UPN);
    assert_san(cert(p, NEGOEX_TESTPKI_DEVICE), NEGOEX_X509_SAN_DNS, NEGOEX_TESTPKI_DEFAULT_HOST);
    assert_int_equal(negoex_x509_match_host(cert(p, NEGOEX_TESTPKI_DEVICE), "localhost"), NEGOEX_OK);
    negoex_testpki_free(p);
}

/* ------------------------------------------------------------------------ */
/* validity                                                                 */
/* ------------------------------------------------------------------------ */

static void test_validity_default(void **state)
{
    (void)state;
    negoex_testpki *p = make_fast(NOW);
    X509 *ca = cert(p, NEGOEX_TESTPKI_CA), *user = cert(p, NEGOEX_TESTPKI_USER);
    X509 *dev = cert(p, NEGOEX_TESTPKI_DEVICE);
    int64_t now = (int64_t)NOW;
    /* 5 minutes back; 1 hour / 1 day / 1 year ahead. */
    assert_validity(user, now - 300, now + 3600);
    assert_validity(dev, now - 300, now + 86400);
    assert_validity(ca, now - 300, now + 365 * 86400);

    negoex_x509_trust *t = trust_of(ca);
    negoex_x509_verify_result res;
    assert_int_equal(verify_at(t, user, now - 300, 0, &res), NEGOEX_OK);
    assert_int_equal(verify_at(t, user, now - 301, 0, &res), NEGOEX_ERR_CERT_NOT_YET_VALID);
    /* OpenSSL counts notAfter itself as expired. */
    assert_int_equal(verify_at(t, user, now + 3599, 0, &res), NEGOEX_OK);
    assert_int_equal(verify_at(t, user, now + 3600, 0, &res), NEGOEX_ERR_CERT_EXPIRED);
    assert_int_equal(res.depth, 0);
    assert_int_equal(verify_at(t, dev, now + 3601, 0, &res), NEGOEX_OK);
    assert_int_equal(verify_at(t, dev, now + 86399, 0, &res), NEGOEX_OK);
    assert_int_equal(verify_at(t, dev, now + 86400, 0, &res), NEGOEX_ERR_CERT_EXPIRED);
    assert_int_equal(verify_at(t, ca, now + 365 * 86400, 0, &res), NEGOEX_ERR_CERT_EXPIRED);
    negoex_x509_trust_free(t);
    negoex_testpki_free(p);
}

static void test_validity_custom(void **state)
{
    (void)state;
    negoex_testpki_options o;
    fast_opts(&o);
    o.user_lifetime = 600;
    o.device_lifetime = 30 * 86400;
    o.ca_lifetime = 7 * 86400; /* shorter than the device's: the CA is stretched */
    o.backdate = 0;
    negoex_testpki *p = make(&o, NOW);
    int64_t now = (int64_t)NOW;
    assert_validity(cert(p, NEGOEX_TESTPKI_USER), now, now + 600);
    assert_validity(cert(p, NEGOEX_TESTPKI_DEVICE), now, now + 30 * 86400);
    assert_validity(cert(p, NEGOEX_TESTPKI_CA), now, now + 30 * 86400);
    negoex_x509_trust *t = trust_of(cert(p, NEGOEX_TESTPKI_CA));
    negoex_x509_verify_result res;
    assert_int_equal(verify_at(t, cert(p, NEGOEX_TESTPKI_DEVICE), now + 30 * 86400 - 1, 0, &res), NEGOEX_OK);
    assert_int_equal(verify_at(t, cert(p, NEGOEX_TESTPKI_USER), now - 1, 0, &res), NEGOEX_ERR_CERT_NOT_YET_VALID);
    negoex_x509_trust_free(t);
    negoex_testpki_free(p);

    /* Long lifetimes, and a now past 2049: GeneralizedTime, still exact. */
    fast_opts(&o);
    o.ca_lifetime = 40 * 366 * 86400;
    o.backdate = 86400 + 1;
    time_t late = (time_t)2524608000; /* 2050-01-01T00:00:00Z */
    p = make(&o, late);
    assert_validity(cert(p, NEGOEX_TESTPKI_CA), (int64_t)late - 86401, (int64_t)late + 40 * 366 * 86400);
    assert_validity(cert(p, NEGOEX_TESTPKI_USER), (int64_t)late - 86401, (int64_t)late + 3600);
    assert_int_equal(ASN1_STRING_type(X509_get0_notBefore(cert(p, NEGOEX_TESTPKI_USER))), V_ASN1_UTCTIME);
    assert_int_equal(ASN1_STRING_type(X509_get0_notAfter(cert(p, NEGOEX_TESTPKI_USER))), V_ASN1_GENERALIZEDTIME);
    /* The CA is named after the year of now. */
    assert_string_equal(negoex_testpki_ca_name(p), "MS-Organization-P2P-Access [2050]");
    negoex_testpki_free(p);
}

/* ------------------------------------------------------------------------ */
/* names and the Windows shape                                              */
/* ------------------------------------------------------------------------ */

static void test_names(void **state)
{
    (void)state;
    negoex_testpki *p = make_fast(NOW);
    X509 *ca = cert(p, NEGOEX_TESTPKI_CA), *user = cert(p, NEGOEX_TESTPKI_USER);
    X509 *dev = cert(p, NEGOEX_TESTPKI_DEVICE);
    const char *tenant = negoex_testpki_tenant(p), *sid = negoex_testpki_user_sid(p);
    const char *devid = negoex_testpki_device_id(p);
    assert_true(guid_shaped(tenant));
    assert_int_equal(tenant[14], '4'); /* version 4 */
    assert_true(strchr("89ab", tenant[19]) != NULL);
    assert_true(guid_shaped(devid));
    assert_true(sid_shaped(sid));
    assert_string_equal(negoex_testpki_ca_name(p), "MS-Organization-P2P-Access [2026]");

    /* CA: CN as a BMPString; issuer = subject. */
    assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(ca)), 1);
    assert_rdn(ca, 0, NID_commonName, V_ASN1_BMPSTRING, NULL);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(ca), X509_get_issuer_name(ca)), 0);
    unsigned char *cn = NULL;
    int cn_len = ASN1_STRING_to_UTF8(&cn, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(X509_get_subject_name(ca), 0)));
    assert_int_equal(cn_len, 33);
    assert_memory_equal(cn, "MS-Organization-P2P-Access [2026]", 33);
    OPENSSL_free(cn);

    /* User: DC=tenant, CN=SID, CN=UPN, in that DER order. */
    assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(user)), 3);
    assert_rdn(user, 0, NID_domainComponent, V_ASN1_IA5STRING, tenant);
    assert_rdn(user, 1, NID_commonName, V_ASN1_UTF8STRING, sid);
    assert_rdn(user, 2, NID_commonName, V_ASN1_UTF8STRING, NEGOEX_TESTPKI_DEFAULT_UPN);
    /* Device: DC=tenant, CN=device id. */
    assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(dev)), 2);
    assert_rdn(dev, 0, NID_domainComponent, V_ASN1_IA5STRING, tenant);
    assert_rdn(dev, 1, NID_commonName, V_ASN1_UTF8STRING, devid);
    for (int i = 0; i < 2; i++)
        assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(i ? dev : user), X509_get_subject_name(ca)), 0);
    negoex_testpki_free(p);

    /* Given names; the tenant is normalised to lowercase. */
    negoex_testpki_options o;
    fast_opts(&o);
    o.tenant = "{A9252448-9AB7-49B0-BB5C-F2F923C84672}";
    o.user_sid = "S-1-12-1-3653211022-1339006422-2627573900-1560734919";
    o.device_id = "c9b6cbdd-d3f0-4ac3-9879-e0ae3b61bd94";
    o.ca_name = "Test P2P CA \xc3\xa9";
    p = make(&o, NOW);
    assert_string_equal(negoex_testpki_tenant(p), "a9252448-9ab7-49b0-bb5c-f2f923c84672");
    assert_string_equal(negoex_testpki_user_sid(p), o.user_sid);
    assert_string_equal(negoex_testpki_device_id(p), o.device_id);
    assert_string_equal(negoex_testpki_ca_name(p), o.ca_name);
    assert_rdn(cert(p, NEGOEX_TESTPKI_USER), 0, NID_domainComponent, V_ASN1_IA5STRING,
               "a9252448-9ab7-49b0-bb5c-f2f923c84672");
    assert_rdn(cert(p, NEGOEX_TESTPKI_USER), 1, NID_commonName, V_ASN1_UTF8STRING, o.user_sid);
    assert_rdn(cert(p, NEGOEX_TESTPKI_DEVICE), 1, NID_commonName, V_ASN1_UTF8STRING, o.device_id);
    /* "Test P2P CA é" in UCS-2 big-endian. */
    static const uint8_t bmp[] = {0, 'T', 0, 'e', 0, 's', 0, 't', 0, ' ', 0, 'P', 0, '2', 0,    'P',
                                  0, ' ', 0, 'C', 0, 'A', 0, ' ', 0, 0xe9};
    ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(X509_get_subject_name(cert(p, 0)), 0));
    assert_int_equal(ASN1_STRING_length(s), sizeof bmp);
    assert_memory_equal(ASN1_STRING_get0_data(s), bmp, sizeof bmp);
    negoex_testpki_free(p);

    /* Accessors on nothing. */
    assert_null(negoex_testpki_get0_cert(NULL, NEGOEX_TESTPKI_CA));
    assert_null(negoex_testpki_get0_key(NULL, NEGOEX_TESTPKI_USER));
    assert_null(negoex_testpki_upn(NULL));
    assert_null(negoex_testpki_host(NULL));
    assert_null(negoex_testpki_tenant(NULL));
    assert_null(negoex_testpki_user_sid(NULL));
    assert_null(negoex_testpki_device_id(NULL));
    assert_null(negoex_testpki_ca_name(NULL));
    negoex_testpki_free(NULL);
}

/* Every extension of a and b: same OIDs in the same order, same
 * criticality, and the same value for the listed NIDs. */
static void assert_same_extensions(X509 *a, X509 *b, const int *same_value_nids, size_t n)
{
    assert_int_equal(X509_get_ext_count(a), X509_get_ext_count(b));
    for (int i = 0; i < X509_get_ext_count(a); i++) {
        X509_EXTENSION *ea = X509_get_ext(a, i), *eb = X509_get_ext(b, i);
        assert_int_equal(OBJ_cmp(X509_EXTENSION_get_object(ea), X509_EXTENSION_get_object(eb)), 0);
        assert_int_equal(X509_EXTENSION_get_critical(ea), X509_EXTENSION_get_critical(eb));
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ea));
        int compare = nid == NID_undef; /* the application policies */
        for (size_t k = 0; k < n; k++)
            compare |= nid == same_value_nids[k];
        if (compare)
            assert_int_equal(ASN1_STRING_cmp(X509_EXTENSION_get_data(ea), X509_EXTENSION_get_data(eb)), 0);
    }
}

static void assert_same_rdn_shape(X509 *a, X509 *b)
{
    X509_NAME *na = X509_get_subject_name(a), *nb = X509_get_subject_name(b);
    assert_int_equal(X509_NAME_entry_count(na), X509_NAME_entry_count(nb));
    for (int i = 0; i < X509_NAME_entry_count(na); i++) {
        X509_NAME_ENTRY *ea = X509_NAME_get_entry(na, i), *eb = X509_NAME_get_entry(nb, i);
        assert_int_equal(X509_NAME_ENTRY_set(ea), X509_NAME_ENTRY_set(eb));
        assert_int_equal(OBJ_cmp(X509_NAME_ENTRY_get_object(ea), X509_NAME_ENTRY_get_object(eb)), 0);
        assert_int_equal(ASN1_STRING_type(X509_NAME_ENTRY_get_data(ea)),
                         ASN1_STRING_type(X509_NAME_ENTRY_get_data(eb)));
    }
}

static void test_windows_shape(void **state)
{
    (void)state;
    X509 *w_ca = vector_cert(K_CA), *w_user = vector_cert(K_S7), *w_dev = vector_cert(K_SERVER);
    negoex_testpki_options o;
    fast_opts(&o);
    o.windows_ca = 1;
    o.tenant = "a9252448-9ab7-49b0-bb5c-f2f923c84672";
    o.upn = "s7@dataans.com";
    o.host = "192.168.0.109";
    negoex_testpki *p = make(&o, NOW_2022);
    X509 *ca = cert(p, NEGOEX_TESTPKI_CA), *user = cert(p, NEGOEX_TESTPKI_USER);
    X509 *dev = cert(p, NEGOEX_TESTPKI_DEVICE);

    /* The CA name, made for a 2022 time, is the real root's byte for byte
     * (what PKU2U metadata lists as trustedCertifiers). */
    size_t la, lb;
    uint8_t *da = name_der(X509_get_subject_name(ca), &la), *db = name_der(X509_get_subject_name(w_ca), &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(da, db, la);
    da = name_der(X509_get_issuer_name(user), &la);
    db = name_der(X509_get_issuer_name(w_user), &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(da, db, la);
    assert_int_equal(X509_get_version(ca), X509_get_version(w_ca));
    assert_int_equal(X509_get_signature_nid(ca), X509_get_signature_nid(w_ca));
    assert_int_equal(X509_get_signature_nid(user), X509_get_signature_nid(w_user));
    assert_same_extensions(ca, w_ca, NULL, 0);

    /* Leaves: subject attributes of the same types and string types in the
     * same order; the same extensions (the Windows-exact shape has no AKI)
     * with the same key usage, EKU and application policies; the SAN equal
     * for equal names. */
    static const int same[] = {NID_key_usage, NID_ext_key_usage, NID_subject_alt_name};
    assert_same_rdn_shape(user, w_user);
    assert_same_rdn_shape(dev, w_dev);
    assert_same_extensions(user, w_user, same, 3);
    assert_same_extensions(dev, w_dev, same, 3);
    /* The same tenant DC and UPN CN values. */
    assert_int_equal(ASN1_STRING_cmp(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(X509_get_subject_name(user), 0)),
                                     X509_NAME_ENTRY_get_data(X509_NAME_get_entry(X509_get_subject_name(w_user), 0))),
                     0);
    assert_int_equal(ASN1_STRING_cmp(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(X509_get_subject_name(user), 2)),
                                     X509_NAME_ENTRY_get_data(X509_NAME_get_entry(X509_get_subject_name(w_user), 2))),
                     0);
    /* Serial numbers of the same size. */
    assert_int_equal(ASN1_STRING_length(X509_get0_serialNumber(user)),
                     ASN1_STRING_length(X509_get0_serialNumber(w_user)));
    /* And the same verdicts at a 2022 time, each PKI under its own root. */
    negoex_x509_trust *t = trust_of(ca), *wt = trust_of(w_ca);
    negoex_x509_verify_result res;
    assert_int_equal(verify_at(t, user, (int64_t)NOW_2022, 0, &res), NEGOEX_OK);
    assert_int_equal(verify_at(wt, w_user, (int64_t)NOW_2022, 0, &res), NEGOEX_OK);
    assert_int_equal(verify_at(wt, user, (int64_t)NOW_2022, 0, &res), NEGOEX_ERR_CERT_INVALID); /* bad signature */
    assert_int_equal(res.x509_error, X509_V_ERR_CERT_SIGNATURE_FAILURE);
    negoex_x509_trust_free(t);
    negoex_x509_trust_free(wt);

    /* The default (strict) CA adds basicConstraints and keyUsage; its leaves
     * an authorityKeyIdentifier at the end. */
    negoex_testpki_free(p);
    o.windows_ca = 0;
    p = make(&o, NOW_2022);
    ca = cert(p, NEGOEX_TESTPKI_CA);
    assert_int_equal(X509_get_ext_count(ca), 3);
    assert_int_equal(X509_get_ext_by_NID(ca, NID_subject_key_identifier, -1), 0);
    assert_int_equal(X509_get_ext_by_NID(ca, NID_basic_constraints, -1), 1);
    assert_int_equal(X509_get_ext_by_NID(ca, NID_key_usage, -1), 2);
    assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(ca, 1)), 1);
    assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(ca, 2)), 1);
    assert_int_equal(X509_get_key_usage(ca), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    assert_int_equal(X509_get_ext_count(cert(p, NEGOEX_TESTPKI_USER)), 5);
    assert_int_equal(X509_get_ext_by_NID(cert(p, NEGOEX_TESTPKI_USER), NID_authority_key_identifier, -1), 4);
    negoex_testpki_free(p);
    X509_free(w_ca);
    X509_free(w_user);
    X509_free(w_dev);
}

/* ------------------------------------------------------------------------ */
/* keys and options                                                         */
/* ------------------------------------------------------------------------ */

static void test_keys(void **state)
{
    (void)state;
    negoex_testpki_options o;
    negoex_testpki_options_init(&o);
    assert_int_equal(o.key_bits, 2048);
    negoex_testpki *p = make(&o, NOW); /* the default size once */
    for (int w = 0; w < 3; w++) {
        EVP_PKEY *k = negoex_testpki_get0_key(p, (negoex_testpki_entity)w);
        assert_non_null(k);
        assert_true(EVP_PKEY_is_a(k, "RSA"));
        assert_int_equal(EVP_PKEY_get_bits(k), 2048);
        assert_int_equal(X509_check_private_key(cert(p, (negoex_testpki_entity)w), k), 1);
    }
    /* Distinct keys. */
    assert_int_equal(EVP_PKEY_eq(negoex_testpki_get0_key(p, NEGOEX_TESTPKI_USER),
                                 negoex_testpki_get0_key(p, NEGOEX_TESTPKI_DEVICE)),
                     0);
    assert_null(negoex_testpki_get0_key(p, (negoex_testpki_entity)3));
    assert_null(negoex_testpki_get0_cert(p, (negoex_testpki_entity)-1));
    /* A reference taken outlives the PKI. */
    X509 *kept = cert(p, NEGOEX_TESTPKI_DEVICE);
    assert_int_equal(X509_up_ref(kept), 1);
    negoex_testpki_free(p);
    assert_san(kept, NEGOEX_X509_SAN_DNS, "localhost");
    X509_free(kept);

    o.key_bits = 1536;
    p = make(&o, NOW);
    assert_int_equal(EVP_PKEY_get_bits(negoex_testpki_get0_key(p, NEGOEX_TESTPKI_USER)), 1536);
    negoex_testpki_free(p);

    /* NULL options: the defaults. */
    p = make(NULL, NOW);
    assert_int_equal(EVP_PKEY_get_bits(negoex_testpki_get0_key(p, NEGOEX_TESTPKI_CA)), 2048);
    assert_string_equal(negoex_testpki_upn(p), NEGOEX_TESTPKI_DEFAULT_UPN);
    negoex_testpki_free(p);
}

static void expect_bad_option(const negoex_testpki_options *o, const char *field)
{
    negoex_testpki *p = (negoex_testpki *)o; /* must be reset to NULL */
    negoex_error_info err = {0, 0, NULL};
    ERR_clear_error();
    assert_int_equal(negoex_testpki_new(o, NOW, &p, &err), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_null(p);
    assert_int_equal(err.code, NEGOEX_ERR_INVALID_ARGUMENT);
    assert_non_null(err.field);
    assert_int_equal(strncmp(err.field, field, strlen(field)), 0);
    assert_int_equal(ERR_peek_error(), 0); /* the error queue left alone */
}

static void test_bad_options(void **state)
{
    (void)state;
    negoex_testpki_options o;
    static const char *const bad_upn[] = {"", "a\nb@x", "caf\xc3@x", "\xc0\xaf@x", "a\x7f@x",
                                          "\xed\xa0\x80@x" /* surrogate */};
    for (size_t i = 0; i < sizeof bad_upn / sizeof bad_upn[0]; i++) {
        fast_opts(&o);
        o.upn = bad_upn[i];
        expect_bad_option(&o, "upn");
    }
    fast_opts(&o);
    o.upn = NULL;
    expect_bad_option(&o, "upn");
    static const char *const bad_host[] = {"", "*.example.com", "a b", "h\xc3\xa9", "a/b", NULL};
    for (size_t i = 0; i < sizeof bad_host / sizeof bad_host[0]; i++) {
        fast_opts(&o);
        o.host = bad_host[i];
        expect_bad_option(&o, "host");
    }
    char longhost[300];
    memset(longhost, 'a', sizeof longhost - 1);
    longhost[sizeof longhost - 1] = '\0';
    fast_opts(&o);
    o.host = longhost;
    expect_bad_option(&o, "host");

    fast_opts(&o);
    o.tenant = "not-a-guid";
    expect_bad_option(&o, "tenant");
    fast_opts(&o);
    o.user_sid = "";
    expect_bad_option(&o, "user_sid");
    fast_opts(&o);
    o.device_id = "\x01";
    expect_bad_option(&o, "device_id");
    fast_opts(&o);
    o.ca_name = "";
    expect_bad_option(&o, "ca_name");
    fast_opts(&o);
    o.ca_name = "CA \xf0\x9f\x98\x80"; /* U+1F600: no BMPString for it */
    expect_bad_option(&o, "ca_name");

    static const int bad_bits[] = {0, 512, 1023, 8193, -2048};
    for (size_t i = 0; i < sizeof bad_bits / sizeof bad_bits[0]; i++) {
        fast_opts(&o);
        o.key_bits = bad_bits[i];
        expect_bad_option(&o, "key_bits");
    }
    fast_opts(&o);
    o.user_lifetime = 0;
    expect_bad_option(&o, "user_lifetime");
    fast_opts(&o);
    o.device_lifetime = -1;
    expect_bad_option(&o, "device_lifetime");
    fast_opts(&o);
    o.ca_lifetime = NEGOEX_TESTPKI_MAX_SECONDS + 1;
    expect_bad_option(&o, "ca_lifetime");
    fast_opts(&o);
    o.backdate = -1;
    expect_bad_option(&o, "backdate");

    negoex_error_info err = {0, 0, NULL};
    assert_int_equal(negoex_testpki_new(NULL, NOW, NULL, &err), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_testpki_new(NULL, NOW, NULL, NULL), NEGOEX_ERR_INVALID_ARGUMENT);
    negoex_testpki_options_init(NULL);
}

/* ------------------------------------------------------------------------ */
/* files                                                                    */
/* ------------------------------------------------------------------------ */

static char tmpdir[256];

static void make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/negoex-testpki-XXXXXX", base != NULL && *base ? base : "/tmp");
    assert_non_null(mkdtemp(tmpdir));
}

static const char *tmp_path(const char *name)
{
    static char p[4][512];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s", tmpdir, name);
    return p[i];
}

static const char *const ALL_FILES[] = {"ca.pem", "user.pem", "user.key", "device.pem",
                                        "device.key", "user.p12", "device.p12"};
#define N_ALL_FILES (sizeof ALL_FILES / sizeof ALL_FILES[0])

static void remove_tree(const char *sub)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, sub);
    for (size_t i = 0; i < N_ALL_FILES; i++) {
        char f[600];
        snprintf(f, sizeof f, "%s/%s", dir, ALL_FILES[i]);
        (void)unlink(f);
    }
    assert_int_equal(rmdir(dir), 0);
}

static int file_mode(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return -1;
    return (int)(st.st_mode & 07777);
}

/* The identity loaded from files is the PKI's: the same certificate, the
 * same key; a p12 also brings the CA. */
static void assert_loads(const negoex_testpki *p, negoex_testpki_entity w, const char *certf, const char *keyf,
                         const char *password, int with_ca)
{
    negoex_x509_identity id;
    negoex_error_info err = {0, 0, NULL};
    int rc = negoex_x509_identity_load(certf, keyf, password, &id, &err);
    if (rc != NEGOEX_OK)
        fail_msg("load %s: %s (%s)", certf, negoex_error_name(rc), err.field ? err.field : "");
    assert_int_equal(X509_cmp(id.cert, negoex_testpki_get0_cert(p, w)), 0);
    assert_int_equal(EVP_PKEY_eq(id.key, negoex_testpki_get0_key(p, w)), 1);
    if (with_ca) {
        assert_non_null(id.chain);
        assert_int_equal(sk_X509_num(id.chain), 1);
        assert_int_equal(X509_cmp(sk_X509_value(id.chain, 0), negoex_testpki_get0_cert(p, NEGOEX_TESTPKI_CA)), 0);
    } else {
        assert_true(id.chain == NULL || sk_X509_num(id.chain) == 0);
    }
    negoex_x509_identity_clear(&id);
}

static void test_write(void **state)
{
    (void)state;
    make_tmpdir();
    negoex_testpki_options o;
    fast_opts(&o);
    o.upn = "bob@contoso.test";
    o.host = "peer.contoso.test";
    negoex_testpki *p = make(&o, NOW);
    negoex_error_info err = {0, 0, NULL};

    /* Into a directory it creates, with the PKCS#12 files. */
    char dir[512];
    snprintf(dir, sizeof dir, "%s", tmp_path("pki"));
    assert_int_equal(negoex_testpki_write(p, dir, "s3cret", &err), NEGOEX_OK);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    static const int modes[] = {0644, 0644, 0600, 0644, 0600, 0600, 0600};
    for (size_t i = 0; i < N_ALL_FILES; i++) {
        char f[600];
        snprintf(f, sizeof f, "%s/%s", dir, ALL_FILES[i]);
        int m = file_mode(f);
        assert_int_not_equal(m, -1);
        /* Secrets exactly 0600; certificates no wider than 0644. */
        if (modes[i] == 0600)
            assert_int_equal(m, 0600);
        else
            assert_int_equal(m & ~0644, 0);
    }

    /* PEM: certificate + separate key; the trust anchor from ca.pem. */
    assert_loads(p, NEGOEX_TESTPKI_USER, tmp_path("pki/user.pem"), tmp_path("pki/user.key"), NULL, 0);
    assert_loads(p, NEGOEX_TESTPKI_DEVICE, tmp_path("pki/device.pem"), tmp_path("pki/device.key"), NULL, 0);
    /* PKCS#12 with its password; a wrong one is refused. */
    assert_loads(p, NEGOEX_TESTPKI_USER, tmp_path("pki/user.p12"), NULL, "s3cret", 1);
    assert_loads(p, NEGOEX_TESTPKI_DEVICE, tmp_path("pki/device.p12"), NULL, "s3cret", 1);
    negoex_x509_identity id;
    assert_int_equal(negoex_x509_identity_load(tmp_path("pki/user.p12"), NULL, "wrong", &id, &err),
                     NEGOEX_ERR_CREDENTIAL_LOAD);
    assert_int_equal(negoex_x509_identity_load(tmp_path("pki/user.p12"), NULL, NULL, &id, &err),
                     NEGOEX_ERR_CREDENTIAL_LOAD);

    negoex_x509_trust *t = NULL;
    assert_int_equal(negoex_x509_trust_new(&t), NEGOEX_OK);
    assert_int_equal(negoex_x509_trust_add_file(t, tmp_path("pki/ca.pem"), &err), NEGOEX_OK);
    assert_int_equal(negoex_x509_trust_count(t), 1);
    assert_int_equal(negoex_x509_identity_load(tmp_path("pki/user.pem"), tmp_path("pki/user.key"), NULL, &id, &err),
                     NEGOEX_OK);
    negoex_x509_verify_result res;
    assert_int_equal(verify_at(t, id.cert, (int64_t)NOW, NEGOEX_X509_STRICT_ANCHOR, &res), NEGOEX_OK);
    assert_int_equal(negoex_x509_check_eku(id.cert, NEGOEX_OID_KP_CLIENT_AUTH, NEGOEX_OID_KP_CLIENT_AUTH_LEN, 0),
                     NEGOEX_OK);
    assert_san(id.cert, NEGOEX_X509_SAN_UPN, "bob@contoso.test");
    negoex_x509_identity_clear(&id);
    assert_int_equal(negoex_x509_identity_load(tmp_path("pki/device.p12"), NULL, "s3cret", &id, &err), NEGOEX_OK);
    assert_int_equal(verify_at(t, id.cert, (int64_t)NOW, 0, &res), NEGOEX_OK);
    assert_int_equal(negoex_x509_match_host(id.cert, "peer.contoso.test"), NEGOEX_OK);
    negoex_x509_identity_clear(&id);
    negoex_x509_trust_free(t);

    /* Again over the same files, from another PKI, with an empty PKCS#12
     * password (loaded with none given); widened key modes come back to
     * 0600. */
    assert_int_equal(chmod(tmp_path("pki/user.key"), 0644), 0);
    negoex_testpki *q = make_fast(NOW);
    assert_int_equal(negoex_testpki_write(q, dir, "", &err), NEGOEX_OK);
    assert_int_equal(file_mode(tmp_path("pki/user.key")), 0600);
    assert_loads(q, NEGOEX_TESTPKI_USER, tmp_path("pki/user.pem"), tmp_path("pki/user.key"), NULL, 0);
    assert_loads(q, NEGOEX_TESTPKI_USER, tmp_path("pki/user.p12"), NULL, NULL, 1);
    assert_loads(q, NEGOEX_TESTPKI_DEVICE, tmp_path("pki/device.p12"), NULL, "", 1);
    remove_tree("pki");

    /* No password: no PKCS#12 files. */
    snprintf(dir, sizeof dir, "%s", tmp_path("nop12"));
    assert_int_equal(negoex_testpki_write(p, dir, NULL, &err), NEGOEX_OK);
    assert_int_equal(file_mode(tmp_path("nop12/user.p12")), -1);
    assert_int_equal(file_mode(tmp_path("nop12/device.p12")), -1);
    assert_loads(p, NEGOEX_TESTPKI_DEVICE, tmp_path("nop12/device.pem"), tmp_path("nop12/device.key"), NULL, 0);

    /* A symbolic link in place of a key file is not followed. */
    assert_int_equal(unlink(tmp_path("nop12/user.key")), 0);
    assert_int_equal(symlink(tmp_path("elsewhere"), tmp_path("nop12/user.key")), 0);
    err.field = NULL;
    assert_int_equal(negoex_testpki_write(p, dir, NULL, &err), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_string_equal(err.field, "user.key: cannot write");
    assert_int_equal(file_mode(tmp_path("elsewhere")), -1);
    remove_tree("nop12");

    /* A directory whose parent is missing; a file where the directory
     * should be; bad arguments. */
    assert_int_equal(negoex_testpki_write(p, tmp_path("missing/pki"), NULL, &err), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(strncmp(err.field, "dir", 3), 0);
    assert_int_equal(errno, ENOENT);
    FILE *f = fopen(tmp_path("plain"), "w");
    assert_non_null(f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(negoex_testpki_write(p, tmp_path("plain"), NULL, &err), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(unlink(tmp_path("plain")), 0);
    assert_int_equal(negoex_testpki_write(NULL, tmpdir, NULL, &err), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_testpki_write(p, NULL, NULL, &err), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_testpki_write(p, "", NULL, NULL), NEGOEX_ERR_INVALID_ARGUMENT);

    negoex_testpki_free(q);
    negoex_testpki_free(p);
    assert_int_equal(rmdir(tmpdir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain),         cmocka_unit_test(test_windows_ca),
        cmocka_unit_test(test_eku),           cmocka_unit_test(test_san),
        cmocka_unit_test(test_validity_default), cmocka_unit_test(test_validity_custom),
        cmocka_unit_test(test_names),         cmocka_unit_test(test_windows_shape),
        cmocka_unit_test(test_keys),          cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
