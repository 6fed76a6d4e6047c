/* The PKU2U fuzz targets (fuzz_pku2u_acceptor.c, fuzz_pku2u_initiator.c) and
 * their seed generator (seedgen_pku2u.c) share this setup, so recorded peer
 * tokens replay exactly:
 *   - a fixed test PKI (below: made once with the testpki API, 1024-bit RSA,
 *     CA "MS-Organization-P2P-Access [2023]", user alice@contoso.test,
 *     device "localhost", valid 2023-11-14T22:08:20Z for 50 years), both
 *     sides' clocks fixed at H_NOW (a configured clock gives 0 microseconds
 *     too, so the Authenticator's cusec echoed in the AP-REP is the same);
 *   - the schemes' rng (nonces, keys, sequence numbers) and OpenSSL's RAND
 *     (DH private values, RSA blinding, confounders, the acceptor's ticket
 *     key) replaced by fixed byte patterns that depend only on the position
 *     in the request, never on what was drawn before: the tokens a side
 *     sends are then a function of what it received alone.
 * Input of both targets: a config byte, then chunks {u16 LE length, bytes}.
 * Config bits (the seeds' peers used the same, but for seedgen_pku2u's peer
 * variations, which change one thing on the peer's side):
 *   0x01 the first chunk is the peer's metadata (after our own query)
 *   0x02 channel bindings (the initiator sends them, the acceptor requires them)
 *   0x04 own CMS signatures with SHA-256, ContentInfo-wrapped
 *   0x08 the initiator offers DH group 14 (else 2)
 *   0x10 the acceptor checks host and service; the initiator sends no
 *        authorization data and no addresses
 *   0x20 the acceptor accepts DH group 14 only
 *   0x40 the acceptor accepts SHA-256 signatures only
 *   0x80 unused
 * Chunks: the scheme's tokens until it is established (a failed step leaves
 * the scheme where it was, so the next chunk is tried at the same point),
 * then alternately an RFC 4121 Wrap token to unwrap and a MIC token over
 * H_MSG to verify.
 *
 * Include this header before any OpenSSL header: replacing the RAND method
 * is deprecated API in OpenSSL 3. */
#ifndef NEGOEX_FUZZ_PKU2U_HARNESS_H
#define NEGOEX_FUZZ_PKU2U_HARNESS_H

#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <negoex/scheme_pku2u.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "pku2u/asn1.h"

#ifdef OPENSSL_NO_DEPRECATED_3_0
#error "the PKU2U fuzz harness needs RAND_set_rand_method (OpenSSL built without deprecated APIs)"
#endif

#define H_UNUSED __attribute__((unused))

#define H_CHECK(c)                                                                                                     \
    do {                                                                                                               \
        if (!(c))                                                                                                      \
            abort();                                                                                                   \
    } while (0)

#define H_META 0x01u
#define H_CB 0x02u
#define H_SHA256 0x04u
#define H_MODP14 0x08u
#define H_NAMES 0x10u
#define H_ONLY14 0x20u
#define H_STRICT_DIGEST 0x40u
/* The config bits that make a different scheme. */
#define H_SCHEME_BITS 0x7eu

#define H_NOW 1700000060 /* 2023-11-14T22:14:20Z: one minute after the PKI was made */
#define H_HOST "localhost"

static const uint8_t H_MSG[] = "PKU2U fuzz message";
static const uint8_t H_CB_DATA[] = "tls-server-end-point:0123456789abcdef0123456789abcdef";

/* The PKI: test material only (unencrypted 1024-bit keys). */
static const char H_CA_PEM[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIICYzCCAcygAwIBAgIQfm0N+tVvpwI8xorZhk/6hTANBgkqhkiG9w0BAQsFADBN\n"
    "MUswSQYDVQQDHkIATQBTAC0ATwByAGcAYQBuAGkAegBhAHQAaQBvAG4ALQBQADIA\n"
    "UAAtAEEAYwBjAGUAcwBzACAAWwAyADAAMgAzAF0wIBcNMjMxMTE0MjIwODIwWhgP\n"
    "MjA3MzExMDEyMjEzMjBaME0xSzBJBgNVBAMeQgBNAFMALQBPAHIAZwBhAG4AaQB6\n"
    "AGEAdABpAG8AbgAtAFAAMgBQAC0AQQBjAGMAZQBzAHMAIABbADIAMAAyADMAXTCB\n"
    "nzANBgkqhkiG9w0BAQEFAAOBjQAwgYkCgYEAnygpyIH2LTN4nJotjqThUnrR0uAM\n"
    "0vxUodRLxqiZayNHX+o9pkWdvQ2JJk8CqnuAWvQiYy1f+Dw2L3Z0mW86FdNiZSI0\n"
    "ozpRxfvFK2vPqP9/FA8VypiRXUKY6z3+FqbQotpmcyaHdq39rBHHoPf8R+QeMZSL\n"
    "PlRuWKFo4g2Bl2kCAwEAAaNCMEAwHQYDVR0OBBYEFMh1T6SuLbi8TnGCL5zs1ws/\n"
    "f/s4MA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgEGMA0GCSqGSIb3DQEB\n"
    "CwUAA4GBAH7AfzMljIS8FZKVwfow3PMtXhyskaboZsAnqjkIZAvFyYBb5URUyM6c\n"
    "K42uOenE8pZzUrZRnTxz2ZsQfxBJUN/emQsxxYfBni402wXjBCB37gnztI9OTHx0\n"
    "fXIJXv0BN+58qReNrhcaYjD4ZDvP2uy7vv2bbZcu+NBzQ8iJg6Cb\n"
    "-----END CERTIFICATE-----\n";

static const char H_USER_PEM[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIC/DCCAmWgAwIBAgIQSU9zzCJKO1uW/65MMXQ3/DANBgkqhkiG9w0BAQsFADBN\n"
    "MUswSQYDVQQDHkIATQBTAC0ATwByAGcAYQBuAGkAegBhAHQAaQBvAG4ALQBQADIA\n"
    "UAAtAEEAYwBjAGUAcwBzACAAWwAyADAAMgAzAF0wIBcNMjMxMTE0MjIwODIwWhgP\n"
    "MjA3MzExMDEyMjEzMjBaMIGRMTQwMgYKCZImiZPyLGQBGRYkNmYxYzBhMmUtM2I3\n"
    "ZC00YzU1LTlhMTAtMmY0ZThkN2MxYjkwMTwwOgYDVQQDDDNTLTEtMTItMS0xMTEx\n"
    "MTExMTExLTIyMjIyMjIyMjItMzMzMzMzMzMzMy00NDQ0NDQ0NDQxGzAZBgNVBAMM\n"
    "EmFsaWNlQGNvbnRvc28udGVzdDCBnzANBgkqhkiG9w0BAQEFAAOBjQAwgYkCgYEA\n"
    "yqXZ6KmWwqlQqkJfCgu3LXs547hjhb+sTq8CCk4I5oqX8FsNtu3gbHfQmq/yX9EK\n"
    "K9kEShDVY+8lU4SEgMIF8Y8SiX5p0u5aBkpXQ45a5biq58EOQYJoFRDFKcO0N62D\n"
    "6c5qK/KPam5Rygq3gkpiJNXr7U21hdap+TPYcUXTp2MCAwEAAaOBlTCBkjAOBgNV\n"
    "HQ8BAf8EBAMCBaAwLQYDVR0RBCYwJKAiBgorBgEEAYI3FAIDoBQMEmFsaWNlQGNv\n"
    "bnRvc28udGVzdDATBgNVHSUEDDAKBggrBgEFBQcDAjAbBgkrBgEEAYI3FQoEDjAM\n"
    "MAoGCCsGAQUFBwMCMB8GA1UdIwQYMBaAFMh1T6SuLbi8TnGCL5zs1ws/f/s4MA0G\n"
    "CSqGSIb3DQEBCwUAA4GBAG4oq2LcxYseNE/0oStPOTyuG8YEuZX5WVnN0nfR5LEZ\n"
    "FMGIhL9Wn9CGY5zBQE14n1SGMfpXmpFFfFVKMNJ8GQU2yLk+RqlgPOtLii79mqYd\n"
    "Q30XqNuQlRYXXM+a+h0gvGqr8GUQ4uIRlHu9tlO7K7eO0aM+D284jSX9gtFUnfok\n"
    "-----END CERTIFICATE-----\n";

static const char H_USER_KEY[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIICeAIBADANBgkqhkiG9w0BAQEFAASCAmIwggJeAgEAAoGBAMql2eiplsKpUKpC\n"
    "XwoLty17OeO4Y4W/rE6vAgpOCOaKl/BbDbbt4Gx30Jqv8l/RCivZBEoQ1WPvJVOE\n"
    "hIDCBfGPEol+adLuWgZKV0OOWuW4qufBDkGCaBUQxSnDtDetg+nOaivyj2puUcoK\n"
    "t4JKYiTV6+1NtYXWqfkz2HFF06djAgMBAAECgYEAsMnbvwQkSBKaEs7wRr1Nwtnb\n"
    "+PQlrss2sTYwW3kUfruuLbvhzRLdVQN581lH45tkejhLa6of350EPUZAqmuZ7kJf\n"
    "lEpjkwO+DiS85whb7f+mu7JvVhTzcDGxUr/GNwfJepOnsGJ4oKISRUbaAYPsT7w+\n"
    "8gu//kP7UwIJdv6YquECQQD1DKuoTr6962z3VlKAadMfDBcQxXVOnS14nrPxOjq8\n"
    "cjP/8Ldfx1k82aBqtxdoN0k/zTA23LQs9i6+jMKYdYwJAkEA07QcvwdvGshf36Of\n"
    "EI+s2E2M5u7OK9DT7IArr9Dd9Pr0HsGCEWlMlJk4B11lmarkAHDvtZyxuqNmB4WL\n"
    "ssBLCwJAHdSfCOwdGC2SpEFj5bH8O2lTXX1MHHfR0z8ulI0MHWihn+SDzisMV/X+\n"
    "Kz+Cn/Mq/ZNS7TrMzDRj2Fp2TezxUQJBAJdkC9KH7GoItJbnGU7sj7w26PYT/BfV\n"
    "RFex6IvYH4GbHIwJ8Yul83+oeiq6HXfgfx/Zo3IKVgaT5timJZp0bLUCQQDtG3ts\n"
    "oLe7eGcwVHj8SCHqKV2VpGqyD2ck7qnXqsqCQcpR6Efz1vy+TmjychtP0S/1uX67\n"
    "ZwXwEmlKvtVKHyyQ\n"
    "-----END PRIVATE KEY-----\n";

static const char H_DEVICE_PEM[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIICtDCCAh2gAwIBAgIQdk5LrgPGhLOuK60iJ7C43jANBgkqhkiG9w0BAQsFADBN\n"
    "MUswSQYDVQQDHkIATQBTAC0ATwByAGcAYQBuAGkAegBhAHQAaQBvAG4ALQBQADIA\n"
    "UAAtAEEAYwBjAGUAcwBzACAAWwAyADAAMgAzAF0wIBcNMjMxMTE0MjIwODIwWhgP\n"
    "MjA3MzExMDEyMjEzMjBaMGUxNDAyBgoJkiaJk/IsZAEZFiQ2ZjFjMGEyZS0zYjdk\n"
    "LTRjNTUtOWExMC0yZjRlOGQ3YzFiOTAxLTArBgNVBAMMJDBiN2U1ZjJhLTkxYzQt\n"
    "NGQzZS04ZjYxLTVhMmM3ZDllNGIxODCBnzANBgkqhkiG9w0BAQEFAAOBjQAwgYkC\n"
    "gYEAwrF7/InLw6tOJD3b61hGUNmfs2Wl3E4duAxRSO2Wh1x1W7abDDZu71qTEYSI\n"
    "aamQoCRYLsZr+NS1qBNCVH6GPXtugx9nM5PfxU6jbYC0tdVF+R2Vu+HMUhLl6JjN\n"
    "NnCjfSP7polcgbxEUcRKQ3TcYPX8QgRV4ku/8/2oQ3T5n9UCAwEAAaN7MHkwDgYD\n"
    "VR0PAQH/BAQDAgWgMBQGA1UdEQQNMAuCCWxvY2FsaG9zdDATBgNVHSUEDDAKBggr\n"
    "BgEFBQcDATAbBgkrBgEEAYI3FQoEDjAMMAoGCCsGAQUFBwMBMB8GA1UdIwQYMBaA\n"
    "FMh1T6SuLbi8TnGCL5zs1ws/f/s4MA0GCSqGSIb3DQEBCwUAA4GBAJZU9QTOnjmQ\n"
    "7bIdmAOGCN/s6rOc4lxf60FaYeX5xesOKx/oEIwF2LObkU8Wey6tScPIi56Fw5TL\n"
    "CJ92WmZvbpMUIP5RqVtwWrduA68kiXC/OZo12+j969JHYHqOWtl0oc/eEdwlCb+K\n"
    "IHkwooJ29kwPAdcQlMBvNm89bMUm68DP\n"
    "-----END CERTIFICATE-----\n";

static const char H_DEVICE_KEY[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBAMKxe/yJy8OrTiQ9\n"
    "2+tYRlDZn7NlpdxOHbgMUUjtlodcdVu2mww2bu9akxGEiGmpkKAkWC7Ga/jUtagT\n"
    "QlR+hj17boMfZzOT38VOo22AtLXVRfkdlbvhzFIS5eiYzTZwo30j+6aJXIG8RFHE\n"
    "SkN03GD1/EIEVeJLv/P9qEN0+Z/VAgMBAAECgYEAjjcXWmFNdqCrc8271y2kL2rI\n"
    "PUMC5Ooqy0Y0GhFy422mTFgW6dTZM/31b9Zfzs8N1ey2fXRzak/2Yc+vpAjIBNiT\n"
    "vPlpqY/UzgsWM79HF1h5tj4NvVvF6eAtPBcRtk9xEL8m6p7iSKkhet2d5VJiD9qg\n"
    "EAWcnqovJ22TJWkUpAECQQD8FtmJaJbOQibDaY5lj7Syy32vDpR0xvDsKMTJgbA2\n"
    "Psm+NB3AXXMzDuHdfKgZXEXzoe9fE5ExyHZ0nHEbP6nrAkEAxbaxC4VFMRb09ie9\n"
    "G9tM8cnN9QJjGM+d3g8gtN5GvDx8YV/z4IrS7JO0WwjMuZQdbDFeFJevLsUWBf62\n"
    "/bGtPwJAY6TgjfkCizsIuXtS5wA7y+S1pGmd8t7kQmUHDCOwNHDzK7TMAcqui4MZ\n"
    "coQgqg2YNOpQhQNmBAiaEhP4fW3XywJAVHP3KC6jIZbmyAatdqq0MUu8V/3PCpgU\n"
    "nPflRpzzphBIKOftqmpiMn/dOE2H9XVZJA/qWe14/QdeouzsiW1NzQJAAwGnCX8O\n"
    "XbTLeBR6c+T0S6F9sHfyE+kjoVswTMVlq/fgvQgdJdNpxqvf/FFGtSPc/+UCAm2Q\n"
    "kt/ZlG44Q4Uehg==\n"
    "-----END PRIVATE KEY-----\n";

/* ------------------------------------------------------------------------ */
/* Deterministic randomness                                                  */
/* ------------------------------------------------------------------------ */

/* Byte i of every request. The first two are zero so that OpenSSL's range
 * draws (BN_priv_rand_range: RSA blinding, FFC private values) land in
 * range on the first try. */
static uint8_t h_pattern(size_t i, uint8_t salt)
{
    return i < 2 ? 0 : (uint8_t)(salt ^ (uint8_t)(i * 0x3bu) ^ (uint8_t)((i >> 8) * 0x95u) ^ 0x5au);
}

static int h_rand_bytes(unsigned char *buf, int num)
{
    for (int i = 0; i < num; i++)
        buf[i] = h_pattern((size_t)i, 0xc3);
    return 1;
}

static int h_rand_status(void)
{
    return 1;
}

static const RAND_METHOD H_RAND = {NULL, h_rand_bytes, NULL, NULL, h_rand_bytes, h_rand_status};

/* The schemes' rng: ud is the salt. */
static int h_rng(void *ud, uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i++)
        out[i] = h_pattern(i + 2, (uint8_t)(uintptr_t)ud);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* PKI and schemes                                                           */
/* ------------------------------------------------------------------------ */

static struct {
    int ready;
    X509 *ca, *user, *dev;
    EVP_PKEY *user_key, *dev_key;
    STACK_OF(X509) *anchors;
    negoex_scheme *proto[2][H_SCHEME_BITS + 1]; /* [initiator][conf & H_SCHEME_BITS] */
    negoex_pku2u_status status;
    negoex_pku2u_message msg;
} H;

static X509 *h_cert(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    H_CHECK(x != NULL);
    return x;
}

static EVP_PKEY *h_key(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    H_CHECK(k != NULL);
    return k;
}

/* Once per process. Everything stays reachable until exit. */
static void h_init(void)
{
    if (H.ready)
        return;
    H_CHECK(RAND_set_rand_method(&H_RAND) == 1);
    H.ca = h_cert(H_CA_PEM);
    H.user = h_cert(H_USER_PEM);
    H.dev = h_cert(H_DEVICE_PEM);
    H.user_key = h_key(H_USER_KEY);
    H.dev_key = h_key(H_DEVICE_KEY);
    H.anchors = sk_X509_new_null();
    H_CHECK(H.anchors != NULL && sk_X509_push(H.anchors, H.ca) > 0);
    H.ready = 1;
}

static H_UNUSED void h_config(int initiator, unsigned conf, negoex_pku2u_config *c)
{
    negoex_pku2u_config_init(c);
    c->cert = initiator ? H.user : H.dev;
    c->key = initiator ? H.user_key : H.dev_key;
    c->trust_anchors = H.anchors;
    c->now = H_NOW;
    c->rng = h_rng;
    c->rng_ud = (void *)(uintptr_t)(initiator ? 0x11 : 0x22);
    c->status = &H.status;
    if (conf & H_CB) {
        c->channel_bindings = H_CB_DATA;
        c->channel_bindings_len = sizeof H_CB_DATA - 1;
    }
    if (conf & H_SHA256) {
        c->digest = NEGOEX_PKU2U_DIGEST_SHA256;
        c->wrapped_cms = 1;
    }
    if (initiator) {
        c->target_host = H_HOST;
        c->netbios_name = (conf & H_NAMES) ? "" : "CLIENT-PC";
        c->no_ad_restrictions = (conf & H_NAMES) != 0;
        c->dh_group = (conf & H_MODP14) ? NEGOEX_PKU2U_DH_MODP14 : NEGOEX_PKU2U_DH_MODP2;
    } else {
        if (conf & H_NAMES) {
            c->host_name = H_HOST;
            c->service = NEGOEX_PKU2U_DEFAULT_SERVICE;
        }
        if (conf & H_ONLY14)
            c->dh_groups_accepted = NEGOEX_PKU2U_ACCEPT_MODP14;
        if (conf & H_STRICT_DIGEST)
            c->accept_digests = NEGOEX_PKU2U_DIGEST_SHA256;
    }
}

/* A new scheme for the role and config (aborts on failure: the config is ours). */
static H_UNUSED negoex_scheme *h_scheme_new(int initiator, unsigned conf)
{
    h_init();
    negoex_pku2u_config c;
    h_config(initiator, conf, &c);
    negoex_scheme *s = NULL;
    H_CHECK(negoex_pku2u_scheme_new(&s, &c, NULL) == NEGOEX_OK);
    return s;
}

/* The scheme the targets copy for each input: an acceptor as made, an
 * initiator that has sent its AS-REQ (out, may be NULL, gets it). */
static H_UNUSED negoex_scheme *h_proto(int initiator, unsigned conf, negoex_buf *out)
{
    negoex_scheme **p = &H.proto[initiator != 0][conf & H_SCHEME_BITS];
    if (*p == NULL) {
        negoex_scheme *s = h_scheme_new(initiator, conf);
        if (initiator) {
            negoex_buf tok;
            negoex_buf_init(&tok, NULL);
            int complete = 1;
            H_CHECK(s->cls->step(s, 1, NULL, 0, &tok, &complete) == NEGOEX_OK && complete == 0 && tok.len > 0);
            negoex_buf_free(&tok);
        }
        *p = s;
    }
    if (out != NULL && initiator) {
        /* The AS-REQ again, from a fresh initiator (identical bytes). */
        negoex_scheme *s = h_scheme_new(1, conf);
        int complete = 1;
        H_CHECK(s->cls->step(s, 1, NULL, 0, out, &complete) == NEGOEX_OK);
        s->cls->destroy(s);
    }
    return *p;
}

/* ------------------------------------------------------------------------ */
/* One input                                                                 */
/* ------------------------------------------------------------------------ */

static int h_next_chunk(const uint8_t *data, size_t size, size_t *pos, const uint8_t **p, size_t *n)
{
    if (*pos + 2 > size)
        return 0;
    size_t len = (size_t)data[*pos] | (size_t)data[*pos + 1] << 8;
    *pos += 2;
    if (len > size - *pos)
        len = size - *pos;
    *p = data + *pos;
    *n = len;
    *pos += len;
    return 1;
}

/* The token in out is a PKU2U token of kind tok_id. */
static void h_expect_token(const negoex_buf *out, unsigned tok_id)
{
    H_CHECK(out->len > 0);
    H_CHECK(negoex_pku2u_decode_token(out->data, out->len, &H.msg, NULL) == NEGOEX_OK);
    H_CHECK(H.msg.token.tok_id == tok_id);
}

/* What an established scheme must give. */
static void h_check_established(negoex_scheme *s)
{
    negoex_key k;
    H_CHECK(s->cls->get_key(s, NEGOEX_KEY_SIGN, &k) == NEGOEX_OK && k.len > 0);
    H_CHECK(s->cls->get_key(s, NEGOEX_KEY_VERIFY, &k) == NEGOEX_OK && k.len > 0);
    negoex_pku2u_keys keys;
    H_CHECK(negoex_pku2u_session_keys(s, &keys) == NEGOEX_OK);
    H_CHECK(keys.session.len > 0 && keys.initiator_subkey.len > 0 && keys.acceptor_subkey.len > 0);
    H_CHECK(negoex_pku2u_peer_cert(s) != NULL);
    char name[600];
    size_t need = 0;
    int rc = negoex_pku2u_peer_name(s, NEGOEX_PKU2U_PEER_SUBJECT, name, sizeof name, &need);
    H_CHECK(rc == NEGOEX_OK || rc == NEGOEX_ERR_BUFFER_TOO_SMALL);
    rc = negoex_pku2u_peer_name(s, NEGOEX_PKU2U_PEER_KRB_NAME, name, sizeof name, &need);
    H_CHECK(rc == NEGOEX_OK || rc == NEGOEX_ERR_BUFFER_TOO_SMALL);
    OPENSSL_cleanse(&keys, sizeof keys);
    OPENSSL_cleanse(&k, sizeof k);
}

/*
 * Runs one input against a copy of the role's prototype. Returns how far it
 * got: 1 per accepted token (2 = established), 1 per verified Wrap / MIC
 * token after that. Aborts when the scheme breaks a rule: a failure must be
 * negative, named in the status and leave no token but the acceptor's
 * KRB-ERROR; a success must send the next message of the exchange.
 */
static H_UNUSED int h_run(int initiator, const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    h_init();
    unsigned conf = data[0];
    negoex_scheme *proto = h_proto(initiator, conf, NULL), *s = NULL;
    H_CHECK(proto->cls->clone(proto, &s) == NEGOEX_OK && s != NULL);
    negoex_buf out;
    negoex_buf_init(&out, NULL);
    size_t pos = 1;
    const uint8_t *p;
    size_t n;
    int depth = 0;

    if (conf & H_META) {
        H_CHECK(s->cls->query_meta_data(s, initiator, &out) == NEGOEX_OK && out.len > 0);
        negoex_buf_free(&out);
        if (h_next_chunk(data, size, &pos, &p, &n)) {
            int rc = s->cls->exchange_meta_data(s, initiator, n ? p : NULL, n);
            H_CHECK(rc == NEGOEX_OK || rc < 0);
            if (rc < 0) /* NEGOEX drops the scheme */
                goto done;
        }
    }
    while (h_next_chunk(data, size, &pos, &p, &n)) {
        int rc;
        if (!negoex_pku2u_is_established(s)) {
            int complete = -1;
            negoex_buf_free(&out);
            memset(&H.status, 0, sizeof H.status);
            rc = s->cls->step(s, initiator, n ? p : NULL, n, &out, &complete);
            H_CHECK(complete == 0 || (rc == NEGOEX_OK && complete == 1));
            if (rc < 0) {
                negoex_pku2u_status st;
                negoex_pku2u_last_status(s, &st);
                H_CHECK(st.error == rc && st.what != NULL && H.status.error == rc);
                H_CHECK(!negoex_pku2u_is_established(s));
                if (out.len != 0) {
                    H_CHECK(!initiator);
                    h_expect_token(&out, NEGOEX_PKU2U_TOK_KRB_ERROR);
                    H_CHECK(st.krb_error != 0);
                }
                continue;
            }
            H_CHECK(rc == NEGOEX_OK);
            H_CHECK(complete == negoex_pku2u_is_established(s));
            depth++;
            if (initiator) {
                if (complete)
                    H_CHECK(out.len == 0);
                else
                    h_expect_token(&out, NEGOEX_PKU2U_TOK_AP_REQ);
            } else {
                h_expect_token(&out, complete ? NEGOEX_PKU2U_TOK_AP_REP : NEGOEX_PKU2U_TOK_AS_REP);
            }
            if (complete)
                h_check_established(s);
        } else if ((depth & 1) == 0) {
            /* Wrap token from the peer. */
            int conf_state = -1;
            negoex_buf_free(&out);
            rc = negoex_pku2u_unwrap(s, n ? p : NULL, n, &out, &conf_state);
            H_CHECK(rc == NEGOEX_OK || rc < 0);
            if (rc == NEGOEX_OK) {
                H_CHECK(conf_state == 0 || conf_state == 1);
                depth++;
            }
        } else {
            rc = negoex_pku2u_verify_mic(s, H_MSG, sizeof H_MSG - 1, n ? p : NULL, n);
            H_CHECK(rc == NEGOEX_OK || rc < 0);
            depth += rc == NEGOEX_OK;
        }
    }
    if (negoex_pku2u_is_established(s)) {
        negoex_buf_free(&out);
        H_CHECK(negoex_pku2u_get_mic(s, H_MSG, sizeof H_MSG - 1, &out) == NEGOEX_OK);
        H_CHECK(negoex_pku2u_wrap(s, 1, H_MSG, sizeof H_MSG - 1, &out) == NEGOEX_OK);
    }
done:
    negoex_buf_free(&out);
    s->cls->destroy(s);
    return depth;
}

#endif
