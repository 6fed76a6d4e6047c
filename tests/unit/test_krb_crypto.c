/*
 * Kerberos crypto for PKU2U (src/pku2u/krb_crypto.c, dh.c, gss_tokens.c).
 *
 * Known answers: every RFC 3961 n-fold vector and every RFC 3962
 * string-to-key and CTS vector (read from the JSON files in
 * ../shared/vectors/rfc/), MIT krb5's t_decrypt.c AES ciphertexts, the KRB-FINISHED checksum and the
 * CredSSP Wrap token of a Windows PKU2U initiator
 * (../shared/vectors/windows/verified/), the Windows 0x8003 checksum layout
 * (../shared/vectors/windows/constants.json), the DH groups Windows and
 * sspi-rs send (dh_groups.json), and DH / octetstring2key / channel-binding
 * values computed independently with Python (see test_python_kats).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <negoex/negoex.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "checksum.h"
#include "pku2u/dh.h"
#include "pku2u/gss_tokens.h"
#include "pku2u/krb_crypto.h"
#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */
/* ------------------------------------------------------------------------ */

static uint8_t *unhex(const char *hex, size_t *len)
{
    size_t n = 0;
    uint8_t *b = tu_unhex(hex, &n);
    if (len != NULL)
        *len = n;
    return b;
}

static void unhex_into(const char *hex, uint8_t *out, size_t expect_len)
{
    size_t n = 0;
    uint8_t *b = tu_unhex(hex, &n);
    assert_int_equal(n, expect_len);
    memcpy(out, b, n);
    free(b);
}

static void key_from_hex(negoex_krb_key *k, int32_t enctype, const char *hex)
{
    size_t n = 0;
    uint8_t *b = unhex(hex, &n);
    assert_int_equal(negoex_krb_key_init(k, enctype, b, n), 0);
    free(b);
}

/* Deterministic filler bytes. */
static void pattern(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 131u + i * 29u + (i >> 3));
}

/* ------------------------------------------------------------------------ */
/* A tiny reader for the flat JSON vector files                               */
/* ------------------------------------------------------------------------ */

typedef struct jobj {
    const char *start, *end; /* [start, end) covers { ... } */
} jobj;

static char *load_text(const char *rel)
{
    size_t len = 0;
    uint8_t *b = tu_load(rel, &len);
    char *s = malloc(len + 1);
    assert_non_null(s);
    memcpy(s, b, len);
    s[len] = '\0';
    free(b);
    return s;
}

/* After a string's opening quote: returns the closing quote. */
static const char *skip_string(const char *p, const char *end)
{
    while (p < end && *p != '"') {
        if (*p == '\\')
            p++;
        p++;
    }
    assert_true(p < end);
    return p;
}

/* Finds "key": in [p, end), returns the first value byte. NULL if absent. */
static const char *find_key(const char *p, const char *end, const char *key)
{
    size_t klen = strlen(key);
    while (p < end) {
        if (*p == '"') {
            const char *close = skip_string(p + 1, end);
            if ((size_t)(close - p - 1) == klen && memcmp(p + 1, key, klen) == 0) {
                const char *v = close + 1;
                while (v < end && (*v == ' ' || *v == '\n' || *v == '\r' || *v == '\t'))
                    v++;
                if (v < end && *v == ':') {
                    v++;
                    while (v < end && (*v == ' ' || *v == '\n' || *v == '\r' || *v == '\t'))
                        v++;
                    return v;
                }
            }
            p = close + 1;
        } else {
            p++;
        }
    }
    return NULL;
}

/* The objects of the array under key (objects of the flat vector files). */
static size_t json_array_objects(const char *text, const char *key, jobj *out, size_t max)
{
    const char *end = text + strlen(text);
    const char *p = find_key(text, end, key);
    assert_non_null(p);
    assert_true(*p == '[');
    p++;
    size_t n = 0;
    for (;;) {
        while (p < end && *p != '{' && *p != ']')
            p++;
        assert_true(p < end);
        if (*p == ']')
            break;
        const char *start = p;
        int depth = 0;
        do {
            if (*p == '"')
                p = skip_string(p + 1, end);
            else if (*p == '{')
                depth++;
            else if (*p == '}')
                depth--;
            p++;
        } while (depth > 0 && p < end);
        assert_int_equal(depth, 0);
        assert_true(n < max);
        out[n].start = start;
        out[n].end = p;
        n++;
    }
    return n;
}

/* A string value (malloc'd), NULL for null. Fails the test when absent. */
static char *json_str(const char *start, const char *end, const char *key)
{
    const char *v = find_key(start, end, key);
    if (v == NULL)
        fail_msg("JSON key \"%s\" missing", key);
    if (strncmp(v, "null", 4) == 0)
        return NULL;
    assert_true(*v == '"');
    const char *close = skip_string(v + 1, end);
    size_t n = (size_t)(close - v - 1);
    char *s = malloc(n + 1);
    assert_non_null(s);
    size_t o = 0;
    for (const char *q = v + 1; q < close; q++) {
        if (*q == '\\')
            q++;
        s[o++] = *q;
    }
    s[o] = '\0';
    return s;
}

static long json_num(const char *start, const char *end, const char *key)
{
    const char *v = find_key(start, end, key);
    if (v == NULL)
        fail_msg("JSON key \"%s\" missing", key);
    char *stop = NULL;
    long n = strtol(v, &stop, 10);
    assert_true(stop != v);
    return n;
}

/* A hex-string field as bytes. */
static uint8_t *json_hex(const jobj *o, const char *key, size_t *len)
{
    char *h = json_str(o->start, o->end, key);
    assert_non_null(h);
    uint8_t *b = unhex(h, len);
    /* every hex field of these files is lowercase hex, two digits a byte */
    assert_int_equal(strlen(h), 2 * *len);
    free(h);
    return b;
}

/* ------------------------------------------------------------------------ */
/* RFC 3961 n-fold                                                            */
/* ------------------------------------------------------------------------ */

static void test_nfold_rfc3961(void **state)
{
    (void)state;
    char *text = load_text("rfc/rfc3961_nfold.json");
    jobj v[32];
    size_t n = json_array_objects(text, "vectors", v, 32);
    assert_int_equal((long)n, json_num(text, text + strlen(text), "count"));
    assert_int_equal(n, 11);
    for (size_t i = 0; i < n; i++) {
        size_t in_len = 0, exp_len = 0;
        uint8_t *in = json_hex(&v[i], "input_hex", &in_len);
        uint8_t *expect = json_hex(&v[i], "expected_hex", &exp_len);
        long bits = json_num(v[i].start, v[i].end, "output_bits");
        assert_int_equal(json_num(v[i].start, v[i].end, "input_bits"), (long)in_len * 8);
        assert_int_equal(bits % 8, 0);
        assert_int_equal((size_t)bits / 8, exp_len);
        /* input_text is the same bytes */
        char *t = json_str(v[i].start, v[i].end, "input_text");
        assert_non_null(t);
        assert_int_equal(strlen(t), in_len);
        assert_memory_equal(t, in, in_len);
        free(t);

        uint8_t out[64];
        memset(out, 0xee, sizeof out);
        assert_int_equal(negoex_krb_nfold(in, in_len, out, exp_len), 0);
        assert_memory_equal(out, expect, exp_len);
        assert_int_equal(out[exp_len], 0xee); /* nothing past n/8 bytes */
        free(in);
        free(expect);
    }
    free(text);

    uint8_t b[4] = {1, 2, 3, 4}, o[4];
    assert_int_equal(negoex_krb_nfold(b, 0, o, 4), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_krb_nfold(b, 4, o, 0), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_krb_nfold(NULL, 4, o, 4), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_krb_nfold(b, 4, NULL, 4), NEGOEX_ERR_INVALID_ARGUMENT);
    /* folding to the same size is rotation-sum of one copy: the identity */
    assert_int_equal(negoex_krb_nfold(b, 4, o, 4), 0);
    assert_memory_equal(o, b, 4);
}

/* ------------------------------------------------------------------------ */
/* RFC 3962 string-to-key                                                     */
/* ------------------------------------------------------------------------ */

static void test_string_to_key_rfc3962(void **state)
{
    (void)state;
    char *text = load_text("rfc/rfc3962_string_to_key.json");
    const char *end = text + strlen(text);
    jobj v[16];
    size_t n = json_array_objects(text, "vectors", v, 16);
    assert_int_equal((long)n, json_num(text, end, "count"));
    assert_int_equal(n, 7);

    /* The DK constant: 128-fold("kerberos") */
    char *c_text = json_str(text, end, "dk_constant_text");
    char *c_fold = json_str(text, end, "dk_constant_128fold_hex");
    uint8_t fold[16], expect_fold[16];
    unhex_into(c_fold, expect_fold, 16);
    assert_int_equal(negoex_krb_nfold((const uint8_t *)c_text, strlen(c_text), fold, 16), 0);
    assert_memory_equal(fold, expect_fold, 16);
    free(c_fold);

    for (size_t i = 0; i < n; i++) {
        size_t pw_len = 0, salt_len = 0, l = 0;
        uint8_t *pw = json_hex(&v[i], "password_hex", &pw_len);
        uint8_t *salt = json_hex(&v[i], "salt_hex", &salt_len);
        assert_int_equal((long)pw_len, json_num(v[i].start, v[i].end, "password_len"));
        assert_int_equal((long)salt_len, json_num(v[i].start, v[i].end, "salt_len"));
        long iter = json_num(v[i].start, v[i].end, "iterations");
        assert_true(iter > 0);

        static const struct {
            int32_t enctype;
            const char *pbkdf2, *key;
        } kinds[] = {{17, "pbkdf2_128_hex", "aes128_key_hex"}, {18, "pbkdf2_256_hex", "aes256_key_hex"}};
        for (size_t k = 0; k < 2; k++) {
            size_t klen = negoex_krb_key_length(kinds[k].enctype);
            uint8_t *expect = json_hex(&v[i], kinds[k].key, &l);
            assert_int_equal(l, klen);
            uint8_t *tkey = json_hex(&v[i], kinds[k].pbkdf2, &l);
            assert_int_equal(l, klen);

            negoex_krb_key out;
            assert_int_equal(negoex_krb_string_to_key(kinds[k].enctype, pw, pw_len, salt, salt_len,
                                                      (uint32_t)iter, &out),
                             0);
            assert_int_equal(out.enctype, kinds[k].enctype);
            assert_int_equal(out.len, klen);
            assert_memory_equal(out.bytes, expect, klen);

            /* DK alone, from the published PBKDF2 output */
            negoex_krb_key t, dk;
            assert_int_equal(negoex_krb_random_to_key(kinds[k].enctype, tkey, klen, &t), 0);
            assert_int_equal(negoex_krb_dk(&t, (const uint8_t *)c_text, strlen(c_text), &dk), 0);
            assert_memory_equal(dk.bytes, expect, klen);
            /* out may alias base */
            assert_int_equal(negoex_krb_dk(&t, (const uint8_t *)c_text, strlen(c_text), &t), 0);
            assert_memory_equal(t.bytes, expect, klen);

            /* a different iteration count gives another key */
            assert_int_equal(negoex_krb_string_to_key(kinds[k].enctype, pw, pw_len, salt, salt_len,
                                                      (uint32_t)iter + 1, &out),
                             0);
            assert_memory_not_equal(out.bytes, expect, klen);
            free(expect);
            free(tkey);
        }
        free(pw);
        free(salt);
    }
    free(c_text);
    free(text);

    negoex_krb_key out;
    const uint8_t pw[] = "password";
    assert_int_equal(negoex_krb_string_to_key(18, pw, 8, pw, 8, 0, &out), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_krb_string_to_key(23, pw, 8, pw, 8, 1, &out), NEGOEX_ERR_KRB_ENCTYPE);
    assert_int_equal(negoex_krb_string_to_key(18, NULL, 8, pw, 8, 1, &out), NEGOEX_ERR_INVALID_ARGUMENT);
    /* empty password and salt are valid inputs */
    assert_int_equal(negoex_krb_string_to_key(17, NULL, 0, NULL, 0, 1, &out), 0);
}

/* ------------------------------------------------------------------------ */
/* RFC 3962 AES-CBC-CTS                                                       */
/* ------------------------------------------------------------------------ */

static void test_cts_rfc3962(void **state)
{
    (void)state;
    char *text = load_text("rfc/rfc3962_cts.json");
    jobj v[16];
    size_t n = json_array_objects(text, "vectors", v, 16);
    assert_int_equal((long)n, json_num(text, text + strlen(text), "count"));
    assert_int_equal(n, 6);
    for (size_t i = 0; i < n; i++) {
        size_t key_len = 0, iv_len = 0, in_len = 0, out_len = 0, niv_len = 0;
        uint8_t *key = json_hex(&v[i], "key_hex", &key_len);
        uint8_t *iv = json_hex(&v[i], "iv_hex", &iv_len);
        uint8_t *in = json_hex(&v[i], "input_hex", &in_len);
        uint8_t *expect = json_hex(&v[i], "output_hex", &out_len);
        uint8_t *next_iv = json_hex(&v[i], "next_iv_hex", &niv_len);
        assert_int_equal(key_len, 16);
        assert_int_equal(iv_len, 16);
        assert_int_equal(niv_len, 16);
        assert_int_equal(in_len, out_len);
        assert_int_equal((long)in_len, json_num(v[i].start, v[i].end, "input_len"));

        uint8_t out[64], back[64], state_iv[16];
        assert_int_equal(negoex_krb_aes_cts(1, key, key_len, iv, in, in_len, out, state_iv), 0);
        assert_memory_equal(out, expect, in_len);
        assert_memory_equal(state_iv, next_iv, 16);
        /* NULL IV is the zero IV the vectors use */
        assert_int_equal(negoex_krb_aes_cts(1, key, key_len, NULL, in, in_len, back, NULL), 0);
        assert_memory_equal(back, expect, in_len);

        memset(state_iv, 0, sizeof state_iv);
        assert_int_equal(negoex_krb_aes_cts(0, key, key_len, iv, expect, in_len, back, state_iv), 0);
        assert_memory_equal(back, in, in_len);
        assert_memory_equal(state_iv, next_iv, 16);

        /* in place, both directions */
        memcpy(back, in, in_len);
        assert_int_equal(negoex_krb_aes_cts(1, key, key_len, NULL, back, in_len, back, NULL), 0);
        assert_memory_equal(back, expect, in_len);
        assert_int_equal(negoex_krb_aes_cts(0, key, key_len, NULL, back, in_len, back, state_iv), 0);
        assert_memory_equal(back, in, in_len);
        assert_memory_equal(state_iv, next_iv, 16);
        free(key);
        free(iv);
        free(in);
        free(expect);
        free(next_iv);
    }
    free(text);

    /* Below one block there is nothing to steal from. */
    uint8_t key[32] = {0}, buf[32] = {0};
    assert_int_equal(negoex_krb_aes_cts(1, key, 16, NULL, buf, 15, buf, NULL), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_krb_aes_cts(1, key, 24, NULL, buf, 16, buf, NULL), NEGOEX_ERR_KEY_SIZE);
    /* exactly one block is plain CBC (ECB with a zero IV); round trip */
    uint8_t one[16], enc[16];
    pattern(one, 16, 1);
    assert_int_equal(negoex_krb_aes_cts(1, key, 32, NULL, one, 16, enc, NULL), 0);
    assert_memory_not_equal(enc, one, 16);
    assert_int_equal(negoex_krb_aes_cts(0, key, 32, NULL, enc, 16, buf, NULL), 0);
    assert_memory_equal(buf, one, 16);
}

/* ------------------------------------------------------------------------ */
/* RFC 3961 encryption: MIT krb5 known ciphertexts                            */
/* ------------------------------------------------------------------------ */

/* krb5 src/lib/crypto/crypto_tests/t_decrypt.c, the aes128/aes256 cases:
 * key usage = case index, plaintexts "", "1", "9 bytesss", "13 bytes byte",
 * "30 bytes bytes bytes bytes byt". */
static const struct {
    int32_t enctype;
    const char *plaintext;
    int32_t usage;
    const char *key, *cipher;
} MIT_DECRYPT[] = {
    {17, "", 0, "5A5C0F0BA54F3828B2195E66CA24A289", "49FF8E11C173D9583A3254FBE7B1F1DF36C538E8416784A1672E6676"},
    {17, "1", 1, "98450E3F3BAA13F5C99BEB936981B06F", "F86742F537B35DC2174A4DBAA920FAF9042090B065E1EBB1CAD9A65394"},
    {17, "9 bytesss", 2, "9062430C8CDA3388922E6D6A509F5B7A",
     "68FB9679601F45C78857B2BF820FD6E53ECA8D42FD4B1D7024A09205ABB7CD2EC26C355D2F"},
    {17, "13 bytes byte", 3, "033EE6502C54FD23E27791E987983827",
     "EC366D0327A933BF49330E650E49BC6B974637FE80BF532FE51795B4809718E6194724DB948D1FD637"},
    {17, "30 bytes bytes bytes bytes byt", 4, "DCEEB70B3DE76562E689226C76429148",
     "C96081032D5D8EEB7E32B4089F789D0FAA481DEA74C0F97CBF3146DDFCF8E800156ECB532FC203E30FF600B63B350939FECE510F02D7"
     "FF1E7BAC"},
    {18, "", 0, "17F275F2954F2ED1F90C377BA7F4D6A369AA0136E0BF0C927AD6133C693759A9",
     "E5094C55EE7B38262E2B044280B069379A95BF95BD8376FB3281B435"},
    {18, "1", 1, "B9477E1FF0329C0050E20CE6C72D2DFF27E8FE541AB0954429A9CB5B4F7B1E2A",
     "406150B97AEB76D43B36B62CC1ECDFBE6F40E95755E0BEB5C27825F3A4"},
    {18, "9 bytesss", 2, "B1AE4CD8462AFF1677053CC9279AAC30B796FB81CE21474DD3DDBCFEA4EC76D7",
     "09957AA25FCAF88F7B39E4406E633012D5FEA21853F6478DA7065CAEF41FD454A40824EEC5"},
    {18, "13 bytes byte", 3, "E5A72BE9B7926C1225BAFEF9C1872E7BA4CDB2B17893D84ABD90ACDD8764D966",
     "D8F1AAFEEC84587CC3E700A774E56651A6D693E174EC4473B5E6D96F80297A653FB818AD893E719F96"},
    {18, "30 bytes bytes bytes bytes byt", 4, "F1C795E9248A09338D82C3F8D5B567040B0110736845041347235B1404231398",
     "D1137A4D634CFECE924DBC3BF6790648BD5CFF7DE0E7B99460211D0DAEF3D79A295C688858F3B34B9CBD6EEBAE81DAF6B734D4D498B6"
     "714F1C1D"},
};

static void test_mit_known_ciphertexts(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof MIT_DECRYPT / sizeof MIT_DECRYPT[0]; i++) {
        negoex_krb_key key;
        key_from_hex(&key, MIT_DECRYPT[i].enctype, MIT_DECRYPT[i].key);
        size_t ct_len = 0;
        uint8_t *ct = unhex(MIT_DECRYPT[i].cipher, &ct_len);
        size_t pt_len = strlen(MIT_DECRYPT[i].plaintext);
        assert_int_equal(ct_len, pt_len + NEGOEX_KRB_ENC_OVERHEAD);
        assert_int_equal(negoex_krb_encrypt_length(key.enctype, pt_len), ct_len);
        size_t l = 0;
        assert_int_equal(negoex_krb_decrypt_length(key.enctype, ct_len, &l), 0);
        assert_int_equal(l, pt_len);

        uint8_t out[64], conf[16], again[64];
        size_t out_len = 99;
        assert_int_equal(negoex_krb_decrypt_with_confounder(&key, MIT_DECRYPT[i].usage, ct, ct_len, out, sizeof out,
                                                            &out_len, conf),
                         0);
        assert_int_equal(out_len, pt_len);
        assert_memory_equal(out, MIT_DECRYPT[i].plaintext, pt_len);

        /* Encryption with that confounder gives MIT's bytes back. */
        size_t again_len = 0;
        assert_int_equal(negoex_krb_encrypt_with_confounder(&key, MIT_DECRYPT[i].usage, conf,
                                                            (const uint8_t *)MIT_DECRYPT[i].plaintext, pt_len, again,
                                                            sizeof again, &again_len),
                         0);
        assert_int_equal(again_len, ct_len);
        assert_memory_equal(again, ct, ct_len);

        /* Another usage, another key, a flipped bit: all refused. */
        assert_int_equal(negoex_krb_decrypt(&key, MIT_DECRYPT[i].usage + 1, ct, ct_len, out, sizeof out, &out_len),
                         NEGOEX_ERR_KRB_INTEGRITY);
        assert_int_equal(out_len, 0);
        negoex_krb_key other = key;
        other.bytes[0] ^= 1;
        assert_int_equal(negoex_krb_decrypt(&other, MIT_DECRYPT[i].usage, ct, ct_len, out, sizeof out, &out_len),
                         NEGOEX_ERR_KRB_INTEGRITY);
        for (size_t b = 0; b < ct_len; b++) {
            ct[b] ^= 0x04;
            assert_int_equal(negoex_krb_decrypt(&key, MIT_DECRYPT[i].usage, ct, ct_len, out, sizeof out, &out_len),
                             NEGOEX_ERR_KRB_INTEGRITY);
            ct[b] ^= 0x04;
        }
        free(ct);
    }
}

/* ------------------------------------------------------------------------ */
/* Encryption round trips                                                     */
/* ------------------------------------------------------------------------ */

static void test_encrypt_roundtrip(void **state)
{
    (void)state;
    const int32_t enctypes[] = {17, 18};
    for (size_t e = 0; e < 2; e++) {
        negoex_krb_key key;
        assert_int_equal(negoex_krb_key_random(&key, enctypes[e]), 0);
        assert_int_equal(key.len, negoex_krb_key_length(enctypes[e]));
        for (size_t len = 0; len <= 64; len++) {
            uint8_t pt[64], ct[64 + 28 + 1], ct2[64 + 28], out[64 + 28];
            pattern(pt, len, (unsigned)len);
            size_t ct_len = 0, out_len = 0;
            int32_t usage = (int32_t)(len % 30);
            assert_int_equal(negoex_krb_encrypt(&key, usage, pt, len, ct, sizeof ct, &ct_len), 0);
            assert_int_equal(ct_len, len + 28);
            assert_int_equal(negoex_krb_decrypt(&key, usage, ct, ct_len, out, sizeof out, &out_len), 0);
            assert_int_equal(out_len, len);
            assert_memory_equal(out, pt, len);

            /* fresh confounder each time */
            size_t ct2_len = 0;
            assert_int_equal(negoex_krb_encrypt(&key, usage, pt, len, ct2, sizeof ct2, &ct2_len), 0);
            assert_memory_not_equal(ct, ct2, ct_len);

            /* exact buffer sizes; one byte short is refused with the size */
            assert_int_equal(negoex_krb_decrypt(&key, usage, ct, ct_len, out, len, &out_len), 0);
            if (len > 0) {
                assert_int_equal(negoex_krb_decrypt(&key, usage, ct, ct_len, out, len - 1, &out_len),
                                 NEGOEX_ERR_BUFFER_TOO_SMALL);
                assert_int_equal(out_len, len);
            }
            assert_int_equal(negoex_krb_encrypt(&key, usage, pt, len, ct2, ct_len - 1, &ct2_len),
                             NEGOEX_ERR_BUFFER_TOO_SMALL);
            assert_int_equal(ct2_len, ct_len);

            /* in place: decrypt over the ciphertext, encrypt over the plaintext */
            memcpy(ct2, ct, ct_len);
            assert_int_equal(negoex_krb_decrypt(&key, usage, ct2, ct_len, ct2, ct_len, &out_len), 0);
            assert_memory_equal(ct2, pt, len);
            memcpy(ct2, pt, len);
            assert_int_equal(negoex_krb_encrypt(&key, usage, ct2, len, ct2, sizeof ct2, &ct2_len), 0);
            assert_int_equal(negoex_krb_decrypt(&key, usage, ct2, ct2_len, out, sizeof out, &out_len), 0);
            assert_memory_equal(out, pt, len);

            /* every flipped bit of the ciphertext or its HMAC is caught, and
             * nothing reaches the output */
            for (size_t b = 0; b < ct_len; b++) {
                ct[b] ^= (uint8_t)(1u << (b % 8));
                memset(out, 0x5a, sizeof out);
                assert_int_equal(negoex_krb_decrypt(&key, usage, ct, ct_len, out, sizeof out, &out_len),
                                 NEGOEX_ERR_KRB_INTEGRITY);
                assert_int_equal(out_len, 0);
                assert_int_equal(out[0], 0x5a);
                ct[b] ^= (uint8_t)(1u << (b % 8));
            }
            /* truncated or extended */
            int rc = negoex_krb_decrypt(&key, usage, ct, ct_len - 1, out, sizeof out, &out_len);
            assert_int_equal(rc, ct_len - 1 < 28 ? NEGOEX_ERR_KRB_MALFORMED : NEGOEX_ERR_KRB_INTEGRITY);
            ct[ct_len] = 0;
            assert_int_equal(negoex_krb_decrypt(&key, usage, ct, ct_len + 1, out, sizeof out, &out_len),
                                 NEGOEX_ERR_KRB_INTEGRITY);
            /* the other usage */
            assert_int_equal(negoex_krb_decrypt(&key, usage + 1, ct, ct_len, out, sizeof out, &out_len),
                             NEGOEX_ERR_KRB_INTEGRITY);
        }
        negoex_krb_key_clear(&key);
        assert_int_equal(key.len, 0);
    }

    /* argument and key errors */
    negoex_krb_key key;
    uint8_t b[64] = {0};
    size_t l = 0;
    assert_int_equal(negoex_krb_key_init(&key, 23, b, 16), NEGOEX_ERR_KRB_ENCTYPE);
    assert_int_equal(negoex_krb_key_init(&key, 18, b, 16), NEGOEX_ERR_KEY_SIZE);
    assert_int_equal(negoex_krb_key_init(&key, 17, b, 32), NEGOEX_ERR_KEY_SIZE);
    assert_int_equal(negoex_krb_key_random(&key, -135), NEGOEX_ERR_KRB_ENCTYPE);
    assert_int_equal(negoex_krb_key_init(&key, 17, b, 16), 0);
    key.len = 32; /* inconsistent key */
    assert_int_equal(negoex_krb_encrypt(&key, 1, b, 1, b, sizeof b, &l), NEGOEX_ERR_KEY_SIZE);
    key.enctype = 23;
    assert_int_equal(negoex_krb_decrypt(&key, 1, b, 30, b, sizeof b, &l), NEGOEX_ERR_KRB_ENCTYPE);
    assert_int_equal(negoex_krb_decrypt(NULL, 1, b, 30, b, sizeof b, &l), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_krb_key_init(&key, 18, b, 32), 0);
    assert_int_equal(negoex_krb_decrypt(&key, 1, b, 27, b, sizeof b, &l), NEGOEX_ERR_KRB_MALFORMED);
    assert_int_equal(negoex_krb_decrypt_length(18, 27, &l), NEGOEX_ERR_KRB_MALFORMED);
    assert_int_equal(negoex_krb_decrypt_length(16, 40, &l), NEGOEX_ERR_KRB_ENCTYPE);
    assert_int_equal(negoex_krb_encrypt_length(23, 10), 0);
    assert_int_equal(negoex_krb_encrypt_length(18, SIZE_MAX), 0);
    assert_int_equal(negoex_krb_encrypt_with_confounder(&key, 1, NULL, b, 1, b, sizeof b, &l),
                     NEGOEX_ERR_INVALID_ARGUMENT);
    negoex_krb_key dk;
    assert_int_equal(negoex_krb_usage_key(&key, 1, 0x11, &dk), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_krb_dk(&key, b, 0, &dk), NEGOEX_ERR_INVALID_ARGUMENT);
    /* Kc, Ke and Ki differ, and differ per usage */
    negoex_krb_key kc, ke, ki, kc2;
    assert_int_equal(negoex_krb_usage_key(&key, 5, NEGOEX_KRB_DK_CHECKSUM, &kc), 0);
    assert_int_equal(negoex_krb_usage_key(&key, 5, NEGOEX_KRB_DK_ENCRYPT, &ke), 0);
    assert_int_equal(negoex_krb_usage_key(&key, 5, NEGOEX_KRB_DK_INTEGRITY, &ki), 0);
    assert_int_equal(negoex_krb_usage_key(&key, 6, NEGOEX_KRB_DK_CHECKSUM, &kc2), 0);
    assert_memory_not_equal(kc.bytes, ke.bytes, kc.len);
    assert_memory_not_equal(kc.bytes, ki.bytes, kc.len);
    assert_memory_not_equal(ke.bytes, ki.bytes, kc.len);
    assert_memory_not_equal(kc.bytes, kc2.bytes, kc.len);
    /* the usage constant is usage BE32 || which */
    const uint8_t constant[5] = {0, 0, 0, 5, 0x99};
    assert_int_equal(negoex_krb_dk(&key, constant, 5, &dk), 0);
    assert_memory_equal(dk.bytes, kc.bytes, kc.len);
}

/* ------------------------------------------------------------------------ */
/* Checksums: one implementation for VERIFY and PKU2U                          */
/* ------------------------------------------------------------------------ */

static void test_checksum_shared(void **state)
{
    (void)state;
    /* MIT krb5 t_cksums.c (also in test_checksum.c, there through the
     * VERIFY API) */
    static const struct {
        const char *plaintext;
        int32_t cksumtype, enctype, usage;
        const char *key, *cksum;
    } v[] = {
        {"eight nine ten eleven twelve thirteen", 15, 17, 3, "9062430C8CDA3388922E6D6A509F5B7A",
         "01A4B088D45628F6946614E3"},
        {"fourteen", 16, 18, 4, "B1AE4CD8462AFF1677053CC9279AAC30B796FB81CE21474DD3DDBCFEA4EC76D7",
         "E08739E3279E2903EC8E3836"},
    };
    for (size_t i = 0; i < 2; i++) {
        negoex_krb_key key;
        key_from_hex(&key, v[i].enctype, v[i].key);
        assert_int_equal(negoex_krb_cksumtype(&key), v[i].cksumtype);
        assert_int_equal(negoex_krb_enctype_cksumtype(v[i].enctype), v[i].cksumtype);
        uint8_t expect[12], out[12], via_verify[NEGOEX_CKSUM_MAX];
        unhex_into(v[i].cksum, expect, 12);
        const uint8_t *pt = (const uint8_t *)v[i].plaintext;
        size_t n = strlen(v[i].plaintext);

        /* any split into chunks gives the same checksum */
        for (size_t cut = 0; cut <= n; cut++) {
            const negoex_krb_chunk chunks[] = {{pt, cut}, {NULL, 0}, {pt + cut, n - cut}};
            assert_int_equal(negoex_krb_checksum(&key, v[i].usage, chunks, 3, out), 0);
            assert_memory_equal(out, expect, 12);
            assert_int_equal(negoex_krb_checksum_verify(&key, v[i].usage, chunks, 3, expect, 12), 0);
        }
        const negoex_krb_chunk all = {pt, n};
        assert_int_equal(negoex_krb_checksum_verify(&key, v[i].usage, &all, 1, expect, 11),
                         NEGOEX_ERR_CHECKSUM_MISMATCH);
        assert_int_equal(negoex_krb_checksum_verify(&key, v[i].usage + 1, &all, 1, expect, 12),
                         NEGOEX_ERR_CHECKSUM_MISMATCH);
        /* the VERIFY API gives the same bytes */
        size_t len = 0;
        int32_t type = 0;
        assert_int_equal(negoex_checksum_make(v[i].enctype, key.bytes, key.len, v[i].usage, pt, n, &type, via_verify,
                                              &len),
                         0);
        assert_int_equal(type, v[i].cksumtype);
        assert_memory_equal(via_verify, expect, 12);
    }
    negoex_krb_key bad;
    memset(&bad, 0, sizeof bad);
    uint8_t out[12];
    assert_int_equal(negoex_krb_checksum(NULL, 1, NULL, 0, out), NEGOEX_ERR_INVALID_ARGUMENT);
    bad.enctype = 23;
    bad.len = 16;
    assert_int_equal(negoex_krb_checksum(&bad, 1, NULL, 0, out), NEGOEX_ERR_KRB_ENCTYPE);
    assert_int_equal(negoex_krb_cksumtype(&bad), NEGOEX_ERR_KRB_ENCTYPE);
    assert_int_equal(negoex_krb_enctype_cksumtype(23), NEGOEX_ERR_KRB_ENCTYPE);
    bad.enctype = 18;
    assert_int_equal(negoex_krb_checksum(&bad, 1, NULL, 0, out), NEGOEX_ERR_KEY_SIZE);
    bad.len = 32;
    const negoex_krb_chunk hole = {NULL, 3};
    assert_int_equal(negoex_krb_checksum(&bad, 1, &hole, 1, out), NEGOEX_ERR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------------------ */
/* Windows: KRB-FINISHED and the CredSSP Wrap token                           */
/* ------------------------------------------------------------------------ */

static void test_windows_krb_finished(void **state)
{
    (void)state;
    char *text = load_text("windows/verified/verified_vectors.json");
    const char *end = text + strlen(text);
    const char *kf = find_key(text, end, "krb_finished");
    assert_non_null(kf);
    jobj o = {kf, end};
    size_t key_len = 0, ck_len = 0;
    uint8_t *key_bytes = json_hex(&o, "key_hex", &key_len);
    uint8_t *expect = json_hex(&o, "expected_checksum_hex", &ck_len);
    assert_int_equal(json_num(o.start, o.end, "key_usage"), NEGOEX_KRB_KU_FINISHED);
    assert_int_equal(json_num(o.start, o.end, "checksum_type"), 16);
    char *file = json_str(o.start, o.end, "input_file");
    char rel[256];
    snprintf(rel, sizeof rel, "windows/verified/%s", file);
    size_t len = 0;
    uint8_t *data = tu_load(rel, &len);
    /* "AS-REQ GSS InitialContextToken (2359 bytes, TOK_ID 05 00) || AS-REP GSS token (2952 bytes, TOK_ID 06 00)" */
    assert_int_equal(len, 2359 + 2952);
    assert_int_equal(data[0], 0x60);
    assert_int_equal(data[2359], 0x60);

    negoex_krb_key subkey;
    assert_int_equal(negoex_krb_key_init(&subkey, 18, key_bytes, key_len), 0);
    const negoex_krb_chunk tokens[] = {{data, 2359}, {data + 2359, 2952}};
    uint8_t mic[12];
    int32_t type = 0;
    assert_int_equal(negoex_gss_krb_finished_mic(&subkey, tokens, 2, &type, mic), 0);
    assert_int_equal(type, 16);
    assert_int_equal(ck_len, 12);
    assert_memory_equal(mic, expect, 12); /* e11dcfca0ec9582c53cec320 */
    assert_int_equal(negoex_gss_krb_finished_verify(&subkey, tokens, 2, 16, expect, 12), 0);

    /* refusals */
    assert_int_equal(negoex_gss_krb_finished_verify(&subkey, tokens, 2, 10, expect, 12), NEGOEX_ERR_UNKEYED_CHECKSUM);
    assert_int_equal(negoex_gss_krb_finished_verify(&subkey, tokens, 2, 15, expect, 12),
                     NEGOEX_ERR_UNSUPPORTED_CHECKSUM);
    const negoex_krb_chunk swapped[] = {{data + 2359, 2952}, {data, 2359}};
    assert_int_equal(negoex_gss_krb_finished_verify(&subkey, swapped, 2, 16, expect, 12),
                     NEGOEX_ERR_CHECKSUM_MISMATCH);
    const negoex_krb_chunk only_req[] = {{data, 2359}};
    assert_int_equal(negoex_gss_krb_finished_verify(&subkey, only_req, 1, 16, expect, 12),
                     NEGOEX_ERR_CHECKSUM_MISMATCH);
    data[100] ^= 1;
    assert_int_equal(negoex_gss_krb_finished_verify(&subkey, tokens, 2, 16, expect, 12), NEGOEX_ERR_CHECKSUM_MISMATCH);
    data[100] ^= 1;
    expect[11] ^= 0x80;
    assert_int_equal(negoex_gss_krb_finished_verify(&subkey, tokens, 2, 16, expect, 12), NEGOEX_ERR_CHECKSUM_MISMATCH);
    free(key_bytes);
    free(expect);
    free(file);
    free(data);
    free(text);
}

/* The 16-byte header the Windows token had (the file is the body after it). */
static void windows_wrap_header(uint8_t h[16], uint16_t rrc)
{
    static const uint8_t hdr[16] = {0x05, 0x04, 0x02, 0xff, 0x00, 0x00, 0x00, 0x00,
                                    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    memcpy(h, hdr, 16);
    h[6] = (uint8_t)(rrc >> 8);
    h[7] = (uint8_t)rrc;
}

static void test_windows_wrap_token(void **state)
{
    (void)state;
    char *text = load_text("windows/verified/verified_vectors.json");
    const char *end = text + strlen(text);
    const char *wr = find_key(text, end, "credssp_pubkeyauth_wrap");
    assert_non_null(wr);
    jobj o = {wr, end};
    size_t key_len = 0, pt_len = 0;
    uint8_t *key_bytes = json_hex(&o, "key_hex", &key_len);
    uint8_t *expect = json_hex(&o, "expected_plaintext_hex", &pt_len);
    long rrc = json_num(o.start, o.end, "rrc");
    long usage = json_num(o.start, o.end, "key_usage");
    assert_int_equal(rrc, 28);
    assert_int_equal(json_num(o.start, o.end, "ec"), 0);
    assert_int_equal(usage, NEGOEX_GSS_KU_INITIATOR_SEAL);
    char *file = json_str(o.start, o.end, "input_file");
    char rel[256];
    snprintf(rel, sizeof rel, "windows/verified/%s", file);
    size_t body_len = 0;
    uint8_t *body = tu_load(rel, &body_len);
    /* 16 confounder + 32 hash + 16 header copy + 12 HMAC */
    assert_int_equal(body_len, 76);
    assert_int_equal(pt_len, 48);

    negoex_krb_key key;
    assert_int_equal(negoex_krb_key_init(&key, 18, key_bytes, key_len), 0);

    /* By hand: undo the rotation, decrypt with usage 24. */
    uint8_t unrot[76], plain[76], conf[16];
    memcpy(unrot, body + rrc, body_len - (size_t)rrc);
    memcpy(unrot + body_len - (size_t)rrc, body, (size_t)rrc);
    size_t out_len = 0;
    assert_int_equal(negoex_krb_decrypt_with_confounder(&key, (int32_t)usage, unrot, body_len, plain, sizeof plain,
                                                        &out_len, conf),
                     0);
    assert_int_equal(out_len, 48);
    assert_memory_equal(plain, expect, 48);
    /* and encryption with that confounder rebuilds Windows' ciphertext */
    uint8_t again[76];
    size_t again_len = 0;
    assert_int_equal(negoex_krb_encrypt_with_confounder(&key, (int32_t)usage, conf, expect, 48, again, sizeof again,
                                                        &again_len),
                     0);
    assert_int_equal(again_len, 76);
    assert_memory_equal(again, unrot, 76);

    /* Through the token API: header + rotated body as Windows sent it. */
    uint8_t tok[16 + 76];
    windows_wrap_header(tok, (uint16_t)rrc);
    memcpy(tok + 16, body, body_len);
    size_t msg_len = 0;
    assert_int_equal(negoex_gss_unwrap_length(&key, tok, sizeof tok, &msg_len), 0);
    assert_int_equal(msg_len, 32);
    uint8_t msg[64];
    negoex_gss_token_params info;
    assert_int_equal(negoex_gss_unwrap(&key, 0, tok, sizeof tok, msg, sizeof msg, &out_len, &info), 0);
    assert_int_equal(out_len, 32);
    assert_memory_equal(msg, expect, 32); /* the CredSSP client-to-server hash */
    assert_int_equal(info.flags, NEGOEX_GSS_FLAG_SEALED);
    assert_true(info.sealed);
    assert_false(info.sent_by_acceptor);
    assert_false(info.acceptor_subkey); /* Windows does not set it */
    assert_int_equal(info.seq, 0);
    assert_int_equal(info.ec, 0);
    assert_int_equal(info.rrc, 28);
    /* the decrypted header copy is the outer header with RRC 0 */
    uint8_t h0[16];
    windows_wrap_header(h0, 0);
    assert_memory_equal(expect + 32, h0, 16);

    /* RRC 0 with the unrotated body, and RRC + body length (mod), also work */
    windows_wrap_header(tok, 0);
    memcpy(tok + 16, unrot, 76);
    assert_int_equal(negoex_gss_unwrap(&key, 0, tok, sizeof tok, msg, sizeof msg, &out_len, &info), NEGOEX_OK);
    assert_memory_equal(msg, expect, 32);
    windows_wrap_header(tok, (uint16_t)(rrc + 76));
    memcpy(tok + 16, body, body_len);
    assert_int_equal(negoex_gss_unwrap(&key, 0, tok, sizeof tok, msg, sizeof msg, &out_len, &info), 0);
    assert_memory_equal(msg, expect, 32);
    windows_wrap_header(tok, (uint16_t)rrc);

    /* Negative: reflected (as if the acceptor sent it), wrong key, every
     * flipped body byte, every header field, truncation. */
    assert_int_equal(negoex_gss_unwrap(&key, 1, tok, sizeof tok, msg, sizeof msg, &out_len, &info),
                     NEGOEX_ERR_KRB_DIRECTION);
    negoex_krb_key wrong = key;
    wrong.bytes[31] ^= 1;
    assert_int_equal(negoex_gss_unwrap(&wrong, 0, tok, sizeof tok, msg, sizeof msg, &out_len, &info),
                     NEGOEX_ERR_KRB_INTEGRITY);
    for (size_t b = 16; b < sizeof tok; b++) {
        tok[b] ^= 0x20;
        memset(msg, 0x5a, sizeof msg);
        assert_int_equal(negoex_gss_unwrap(&key, 0, tok, sizeof tok, msg, sizeof msg, &out_len, &info),
                         NEGOEX_ERR_KRB_INTEGRITY);
        assert_int_equal(out_len, 0);
        assert_int_equal(msg[0], 0x5a);
        tok[b] ^= 0x20;
    }
    static const struct {
        size_t at;
        uint8_t x;
        int rc;
    } hdr_tamper[] = {
        {0, 0x01, NEGOEX_ERR_KRB_MALFORMED},  /* TOK_ID */
        {1, 0x01, NEGOEX_ERR_KRB_MALFORMED},  /* TOK_ID */
        {2, 0x04, NEGOEX_ERR_KRB_MALFORMED},  /* AcceptorSubkey added: header copy differs */
        {2, 0x02, NEGOEX_ERR_KRB_MALFORMED},  /* Sealed removed: integrity-only needs EC = 12, not 0 */
        {3, 0x01, NEGOEX_ERR_KRB_MALFORMED},  /* filler */
        {5, 0x01, NEGOEX_ERR_KRB_MALFORMED},  /* EC 1: header copy differs */
        {7, 0x01, NEGOEX_ERR_KRB_INTEGRITY},  /* RRC 29: wrong rotation */
        {15, 0x01, NEGOEX_ERR_KRB_MALFORMED}, /* SND_SEQ: header copy differs */
    };
    for (size_t i = 0; i < sizeof hdr_tamper / sizeof hdr_tamper[0]; i++) {
        tok[hdr_tamper[i].at] ^= hdr_tamper[i].x;
        assert_int_equal(negoex_gss_unwrap(&key, 0, tok, sizeof tok, msg, sizeof msg, &out_len, &info),
                         hdr_tamper[i].rc);
        tok[hdr_tamper[i].at] ^= hdr_tamper[i].x;
    }
    for (size_t cut = 0; cut < sizeof tok; cut++) {
        int rc = negoex_gss_unwrap(&key, 0, tok, cut, msg, sizeof msg, &out_len, &info);
        assert_true(rc == NEGOEX_ERR_KRB_MALFORMED || rc == NEGOEX_ERR_KRB_INTEGRITY);
    }
    /* too small an output buffer: told the size, nothing done */
    assert_int_equal(negoex_gss_unwrap(&key, 0, tok, sizeof tok, msg, 31, &out_len, &info),
                     NEGOEX_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(out_len, 32);
    free(key_bytes);
    free(expect);
    free(file);
    free(body);
    free(text);
}

/* ------------------------------------------------------------------------ */
/* MIC and Wrap tokens                                                        */
/* ------------------------------------------------------------------------ */

static void test_mic_tokens(void **state)
{
    (void)state;
    const int32_t enctypes[] = {17, 18};
    for (size_t e = 0; e < 2; e++) {
        negoex_krb_key key;
        assert_int_equal(negoex_krb_key_random(&key, enctypes[e]), 0);
        assert_int_equal(negoex_gss_mic_length(&key), 28);
        for (int acceptor = 0; acceptor < 2; acceptor++) {
            for (size_t len = 0; len < 40; len += 13) {
                uint8_t msg[40], tok[28];
                pattern(msg, len, (unsigned)(len + 7));
                negoex_gss_token_params tp = {0};
                tp.sent_by_acceptor = acceptor;
                tp.acceptor_subkey = acceptor;
                tp.seq = 0x0102030405060708ull + len;
                size_t tok_len = 0;
                assert_int_equal(negoex_gss_mic_make(&key, &tp, msg, len, tok, sizeof tok, &tok_len), 0);
                assert_int_equal(tok_len, 28);
                /* header: 04 04 flags ff ff ff ff ff SND_SEQ */
                assert_int_equal(tok[0], 0x04);
                assert_int_equal(tok[1], 0x04);
                assert_int_equal(tok[2], acceptor ? 0x05 : 0x00);
                for (int i = 3; i < 8; i++)
                    assert_int_equal(tok[i], 0xff);
                assert_int_equal(tok[8], 0x01);
                assert_int_equal(tok[15], (uint8_t)(0x08 + len));

                /* the checksum is over msg || header, with the sender's sign usage */
                uint8_t ck[12];
                const negoex_krb_chunk chunks[] = {{msg, len}, {tok, 16}};
                assert_int_equal(negoex_krb_checksum(&key, acceptor ? 23 : 25, chunks, 2, ck), 0);
                assert_memory_equal(ck, tok + 16, 12);

                negoex_gss_token_params info;
                assert_int_equal(negoex_gss_mic_verify(&key, acceptor, msg, len, tok, tok_len, &info), 0);
                assert_int_equal(info.seq, tp.seq);
                assert_int_equal(info.sent_by_acceptor, acceptor);
                assert_int_equal(info.acceptor_subkey, acceptor);
                assert_int_equal(negoex_gss_mic_verify(&key, acceptor, msg, len, tok, tok_len, NULL), 0);
                /* reflected */
                assert_int_equal(negoex_gss_mic_verify(&key, !acceptor, msg, len, tok, tok_len, &info),
                                 NEGOEX_ERR_KRB_DIRECTION);
                /* every flipped token bit is caught */
                for (size_t b = 0; b < tok_len; b++) {
                    tok[b] ^= 0x08;
                    int rc = negoex_gss_mic_verify(&key, acceptor, msg, len, tok, tok_len, &info);
                    if (b < 2 || (b >= 3 && b < 8))
                        assert_int_equal(rc, NEGOEX_ERR_KRB_MALFORMED);
                    else
                        assert_int_equal(rc, NEGOEX_ERR_CHECKSUM_MISMATCH);
                    tok[b] ^= 0x08;
                }
                /* message changed */
                if (len > 0) {
                    msg[len - 1] ^= 1;
                    assert_int_equal(negoex_gss_mic_verify(&key, acceptor, msg, len, tok, tok_len, &info),
                                     NEGOEX_ERR_CHECKSUM_MISMATCH);
                    msg[len - 1] ^= 1;
                }
                /* truncated / long */
                assert_int_equal(negoex_gss_mic_verify(&key, acceptor, msg, len, tok, 15, &info),
                                 NEGOEX_ERR_KRB_MALFORMED);
                assert_int_equal(negoex_gss_mic_verify(&key, acceptor, msg, len, tok, 27, &info),
                                 NEGOEX_ERR_CHECKSUM_MISMATCH);
                /* a Wrap token is not a MIC */
                tok[0] = 0x05;
                assert_int_equal(negoex_gss_mic_verify(&key, acceptor, msg, len, tok, tok_len, &info),
                                 NEGOEX_ERR_KRB_MALFORMED);
            }
        }
        uint8_t small[27];
        size_t l = 0;
        negoex_gss_token_params tp = {0};
        assert_int_equal(negoex_gss_mic_make(&key, &tp, NULL, 0, small, sizeof small, &l),
                         NEGOEX_ERR_BUFFER_TOO_SMALL);
        assert_int_equal(l, 28);
    }
}

static void test_wrap_tokens(void **state)
{
    (void)state;
    static const size_t lens[] = {0, 1, 15, 16, 17, 32, 100};
    static const uint16_t rrcs[] = {0, 1, 12, 28, 60, 1000, 65535};
    static const uint16_t ecs[] = {0, 5};
    const int32_t enctypes[] = {17, 18};
    unsigned made = 0;
    for (size_t e = 0; e < 2; e++) {
        negoex_krb_key key;
        assert_int_equal(negoex_krb_key_random(&key, enctypes[e]), 0);
        for (int acceptor = 0; acceptor < 2; acceptor++)
            for (int sealed = 0; sealed < 2; sealed++)
                for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
                    for (size_t ri = 0; ri < sizeof rrcs / sizeof rrcs[0]; ri++)
                        for (size_t ei = 0; ei < (sealed ? 2u : 1u); ei++) {
                            size_t len = lens[li];
                            uint8_t msg[100], tok[256], out[128];
                            pattern(msg, len, (unsigned)(len + ri));
                            negoex_gss_token_params tp = {0};
                            tp.sent_by_acceptor = acceptor;
                            tp.acceptor_subkey = sealed;
                            tp.sealed = sealed;
                            tp.ec = ecs[ei];
                            tp.rrc = rrcs[ri];
                            tp.seq = 77 + len;
                            size_t need = negoex_gss_wrap_length(&key, &tp, len);
                            assert_int_equal(need, sealed ? 16 + 16 + len + tp.ec + 16 + 12 : 16 + len + 12);
                            size_t tok_len = 0;
                            assert_int_equal(negoex_gss_wrap(&key, &tp, msg, len, tok, sizeof tok, &tok_len), 0);
                            assert_int_equal(tok_len, need);
                            made++;
                            assert_int_equal(tok[0], 0x05);
                            assert_int_equal(tok[1], 0x04);
                            assert_int_equal(tok[2], (acceptor ? 1 : 0) | (sealed ? 6 : 0));
                            assert_int_equal(tok[3], 0xff);
                            assert_int_equal(tok[4] << 8 | tok[5], sealed ? tp.ec : 12);
                            assert_int_equal(tok[6] << 8 | tok[7], tp.rrc);

                            size_t mlen = 0;
                            assert_int_equal(negoex_gss_unwrap_length(&key, tok, tok_len, &mlen), 0);
                            assert_int_equal(mlen, len);
                            negoex_gss_token_params info;
                            size_t out_len = 0;
                            assert_int_equal(negoex_gss_unwrap(&key, acceptor, tok, tok_len, out, sizeof out,
                                                               &out_len, &info),
                                             0);
                            assert_int_equal(out_len, len);
                            assert_memory_equal(out, msg, len);
                            assert_int_equal(info.sealed, sealed);
                            assert_int_equal(info.seq, tp.seq);
                            assert_int_equal(info.rrc, tp.rrc);
                            assert_int_equal(info.acceptor_subkey, sealed);
                            /* unsealed with no rotation: the message travels in clear after the header */
                            if (!sealed && tp.rrc % (len + 12) == 0 && len > 0)
                                assert_memory_equal(tok + 16, msg, len);

                            assert_int_equal(negoex_gss_unwrap(&key, !acceptor, tok, tok_len, out, sizeof out,
                                                               &out_len, &info),
                                             NEGOEX_ERR_KRB_DIRECTION);
                            /* any flipped byte after the header */
                            for (size_t b = 16; b < tok_len; b += 7) {
                                tok[b] ^= 0x40;
                                assert_int_equal(negoex_gss_unwrap(&key, acceptor, tok, tok_len, out, sizeof out,
                                                                   &out_len, &info),
                                                 sealed ? NEGOEX_ERR_KRB_INTEGRITY : NEGOEX_ERR_CHECKSUM_MISMATCH);
                                tok[b] ^= 0x40;
                            }
                            /* SND_SEQ is authenticated */
                            tok[12] ^= 1;
                            assert_int_not_equal(negoex_gss_unwrap(&key, acceptor, tok, tok_len, out, sizeof out,
                                                                   &out_len, &info),
                                                 0);
                            tok[12] ^= 1;
                            /* the other usage (acceptor vs initiator seal) */
                            tok[2] ^= NEGOEX_GSS_FLAG_SENT_BY_ACCEPTOR;
                            assert_int_not_equal(negoex_gss_unwrap(&key, !acceptor, tok, tok_len, out, sizeof out,
                                                                   &out_len, &info),
                                                 0);
                            tok[2] ^= NEGOEX_GSS_FLAG_SENT_BY_ACCEPTOR;
                            /* truncated by one byte */
                            assert_int_not_equal(negoex_gss_unwrap(&key, acceptor, tok, tok_len - 1, out, sizeof out,
                                                                   &out_len, &info),
                                                 0);
                        }
        /* sealed with EC: filler is stripped, EC in the outer header is
         * bound by the encrypted copy */
        uint8_t msg[8] = "abcdefg", tok[128], out[64];
        negoex_gss_token_params tp = {0};
        tp.sealed = 1;
        tp.ec = 3;
        size_t tok_len = 0, out_len = 0;
        assert_int_equal(negoex_gss_wrap(&key, &tp, msg, 7, tok, sizeof tok, &tok_len), 0);
        tok[5] = 4; /* EC 3 -> 4 would cut a byte off the message */
        assert_int_equal(negoex_gss_unwrap(&key, 0, tok, tok_len, out, sizeof out, &out_len, NULL),
                         NEGOEX_ERR_KRB_MALFORMED);
        tok[5] = 0xff; /* larger than the plaintext */
        assert_int_equal(negoex_gss_unwrap(&key, 0, tok, tok_len, out, sizeof out, &out_len, NULL),
                         NEGOEX_ERR_KRB_MALFORMED);
        tok[5] = 3;
        assert_int_equal(negoex_gss_unwrap(&key, 0, tok, tok_len, out, sizeof out, &out_len, NULL), 0);
        assert_int_equal(out_len, 7);
        /* unsealed: EC must be the checksum length */
        tp.sealed = 0;
        assert_int_equal(negoex_gss_wrap(&key, &tp, msg, 7, tok, sizeof tok, &tok_len), 0);
        tok[5] = 11;
        assert_int_equal(negoex_gss_unwrap(&key, 0, tok, tok_len, out, sizeof out, &out_len, NULL),
                         NEGOEX_ERR_KRB_MALFORMED);
        tok[5] = 12;
        assert_int_equal(negoex_gss_unwrap(&key, 0, tok, tok_len, out, sizeof out, &out_len, NULL), 0);
        /* output too small, and overlapping msg/out refused */
        assert_int_equal(negoex_gss_unwrap(&key, 0, tok, tok_len, out, 6, &out_len, NULL),
                         NEGOEX_ERR_BUFFER_TOO_SMALL);
        assert_int_equal(out_len, 7);
        assert_int_equal(negoex_gss_wrap(&key, &tp, tok + 20, 7, tok, sizeof tok, &tok_len),
                         NEGOEX_ERR_INVALID_ARGUMENT);
        assert_int_equal(negoex_gss_wrap(&key, &tp, msg, 7, tok, 30, &tok_len), NEGOEX_ERR_BUFFER_TOO_SMALL);
        assert_int_equal(tok_len, 35);
    }
    assert_int_equal(made, 2 * 2 * 7 * 7 * 3);
}

/* ------------------------------------------------------------------------ */
/* 0x8003 authenticator checksum                                              */
/* ------------------------------------------------------------------------ */

static void test_ap_cksum_windows(void **state)
{
    (void)state;
    char *text = load_text("windows/constants.json");
    const char *end = text + strlen(text);
    char *prefix_hex = json_str(text, end, "authenticator_cksum_0x8003_prefix_hex");
    char *ext_template = json_str(text, end, "authenticator_cksum_extension_template_hex");
    /* "000000020000001b3019a1173015a003020110a10e040c<12-byte hmac ...>" */
    char *lt = strchr(ext_template, '<');
    assert_non_null(lt);
    *lt = '\0';
    size_t prefix_len = 0, ext_head_len = 0;
    uint8_t *prefix = unhex(prefix_hex, &prefix_len);
    uint8_t *ext_head = unhex(ext_template, &ext_head_len);
    assert_int_equal(prefix_len, 24);
    assert_int_equal(ext_head_len, 8 + 15);

    /* KRB-FINISHED DER = template after type/length, + the Windows gss-mic */
    uint8_t finished[27];
    memcpy(finished, ext_head + 8, 15);
    unhex_into("e11dcfca0ec9582c53cec320", finished + 15, 12);

    negoex_gss_ap_cksum c;
    memset(&c, 0, sizeof c);
    c.flags = NEGOEX_GSS_C_MUTUAL_FLAG | NEGOEX_GSS_C_REPLAY_FLAG | NEGOEX_GSS_C_SEQUENCE_FLAG |
              NEGOEX_GSS_C_CONF_FLAG | NEGOEX_GSS_C_INTEG_FLAG | NEGOEX_GSS_C_EXTENDED_ERROR_FLAG;
    assert_int_equal(c.flags, 0x403e);
    assert_int_equal(negoex_gss_channel_bindings_hash(NULL, c.bnd), 0); /* no bindings: zeros */
    c.n_exts = 1;
    c.exts[0].type = NEGOEX_GSS_EXTS_FINISHED;
    c.exts[0].data = finished;
    c.exts[0].len = sizeof finished;

    uint8_t out[128];
    size_t out_len = 0, len = 0;
    assert_int_equal(negoex_gss_ap_cksum_length(&c, &len), 0);
    assert_int_equal(len, 24 + 8 + 27);
    assert_int_equal(negoex_gss_ap_cksum_build(&c, out, sizeof out, &out_len), 0);
    assert_int_equal(out_len, len);
    assert_memory_equal(out, prefix, 24);
    assert_memory_equal(out + 24, ext_head, ext_head_len);
    assert_memory_equal(out + 24 + ext_head_len, finished + 15, 12);

    negoex_gss_ap_cksum p;
    assert_int_equal(negoex_gss_ap_cksum_parse(out, out_len, &p), 0);
    assert_int_equal(p.flags, 0x403e);
    assert_int_equal(p.n_exts, 1);
    const negoex_gss_ext *fx = negoex_gss_ap_cksum_find(&p, NEGOEX_GSS_EXTS_FINISHED);
    assert_non_null(fx);
    assert_int_equal(fx->len, 27);
    assert_memory_equal(fx->data, finished, 27);
    assert_null(negoex_gss_ap_cksum_find(&p, NEGOEX_GSS_EXTS_CHANNEL_BINDING));
    assert_null(p.deleg);

    /* Truncations: only the end of the fixed part (24) is a valid cut. */
    for (size_t cut = 0; cut < out_len; cut++)
        assert_int_equal(negoex_gss_ap_cksum_parse(out, cut, &p), cut == 24 ? 0 : NEGOEX_ERR_KRB_MALFORMED);
    /* Lgth other than 16 */
    out[0] = 15;
    assert_int_equal(negoex_gss_ap_cksum_parse(out, out_len, &p), NEGOEX_ERR_KRB_MALFORMED);
    out[0] = 16;
    /* extension length past the end / short of it */
    out[24 + 7] = 0x1c;
    assert_int_equal(negoex_gss_ap_cksum_parse(out, out_len, &p), NEGOEX_ERR_KRB_MALFORMED);
    out[24 + 7] = 0x1a;
    assert_int_equal(negoex_gss_ap_cksum_parse(out, out_len, &p), NEGOEX_ERR_KRB_MALFORMED);
    out[24 + 7] = 0x1b;
    /* the delegation flag with no room for DlgOpt/Dlgth is malformed */
    out[20] |= 0x01;
    assert_int_equal(negoex_gss_ap_cksum_parse(out, 24, &p), NEGOEX_ERR_KRB_MALFORMED);
    /* ... and here DlgOpt would read 00 00 (not 1) */
    assert_int_equal(negoex_gss_ap_cksum_parse(out, out_len, &p), NEGOEX_ERR_KRB_MALFORMED);
    out[20] &= (uint8_t)~0x01;

    /* Delegation and two extensions round trip; a duplicate type is refused. */
    const uint8_t cred[5] = {0x76, 0x03, 0x30, 0x01, 0x00};
    c.flags |= NEGOEX_GSS_C_DELEG_FLAG;
    c.dlg_opt = NEGOEX_GSS_DLGOPT_KRB_CRED;
    c.deleg = cred;
    c.deleg_len = sizeof cred;
    c.n_exts = 2;
    c.exts[1].type = 0x7f;
    c.exts[1].data = NULL;
    c.exts[1].len = 0;
    pattern(c.bnd, 16, 3);
    assert_int_equal(negoex_gss_ap_cksum_build(&c, out, sizeof out, &out_len), 0);
    assert_int_equal(out_len, 24 + 4 + 5 + 8 + 27 + 8);
    assert_int_equal(negoex_gss_ap_cksum_parse(out, out_len, &p), 0);
    assert_memory_equal(p.bnd, c.bnd, 16);
    assert_int_equal(p.dlg_opt, 1);
    assert_int_equal(p.deleg_len, 5);
    assert_memory_equal(p.deleg, cred, 5);
    assert_int_equal(p.n_exts, 2);
    assert_int_equal(p.exts[1].type, 0x7f);
    assert_int_equal(p.exts[1].len, 0);
    c.exts[1].type = NEGOEX_GSS_EXTS_FINISHED;
    assert_int_equal(negoex_gss_ap_cksum_build(&c, out, sizeof out, &out_len), 0);
    assert_int_equal(negoex_gss_ap_cksum_parse(out, out_len, &p), NEGOEX_ERR_KRB_MALFORMED);
    /* Dlgth past the end */
    assert_int_equal(negoex_gss_ap_cksum_parse(out, 24 + 4 + 4, &p), NEGOEX_ERR_KRB_MALFORMED);
    /* builder refusals */
    assert_int_equal(negoex_gss_ap_cksum_build(&c, out, 10, &out_len), NEGOEX_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(out_len, 24 + 4 + 5 + 8 + 27 + 8);
    c.flags &= ~NEGOEX_GSS_C_DELEG_FLAG;
    assert_int_equal(negoex_gss_ap_cksum_length(&c, &len), NEGOEX_ERR_INVALID_ARGUMENT);
    c.flags |= NEGOEX_GSS_C_DELEG_FLAG;
    c.deleg_len = 70000;
    assert_int_equal(negoex_gss_ap_cksum_length(&c, &len), NEGOEX_ERR_TOO_LARGE);
    c.deleg_len = 5;
    c.n_exts = NEGOEX_GSS_MAX_EXTS + 1;
    assert_int_equal(negoex_gss_ap_cksum_length(&c, &len), NEGOEX_ERR_INVALID_ARGUMENT);

    /* more extensions than the parser keeps */
    uint8_t many[24 + 8 * (NEGOEX_GSS_MAX_EXTS + 1)];
    memcpy(many, prefix, 24);
    for (size_t i = 0; i <= NEGOEX_GSS_MAX_EXTS; i++) {
        uint8_t *x = many + 24 + 8 * i;
        memset(x, 0, 8);
        x[3] = (uint8_t)(0x10 + i);
    }
    assert_int_equal(negoex_gss_ap_cksum_parse(many, 24 + 8 * NEGOEX_GSS_MAX_EXTS, &p), 0);
    assert_int_equal(p.n_exts, NEGOEX_GSS_MAX_EXTS);
    assert_int_equal(negoex_gss_ap_cksum_parse(many, sizeof many, &p), NEGOEX_ERR_KRB_MALFORMED);
    free(prefix_hex);
    free(ext_template);
    free(prefix);
    free(ext_head);
    free(text);
}

/* ------------------------------------------------------------------------ */
/* Diffie-Hellman                                                             */
/* ------------------------------------------------------------------------ */

static void load_json_group(const char *text, const char *name, negoex_dh_params *out, uint8_t **bufs)
{
    const char *end = text + strlen(text);
    const char *g = find_key(text, end, name);
    assert_non_null(g);
    jobj o = {g, end};
    out->p = bufs[0] = json_hex(&o, "p", &out->p_len);
    out->g = bufs[1] = json_hex(&o, "g", &out->g_len);
    out->q = bufs[2] = json_hex(&o, "q", &out->q_len);
}

static void test_dh_groups(void **state)
{
    (void)state;
    char *text = load_text("windows/pku2u/dh_groups.json");
    static const struct {
        const char *name;
        int id;
        size_t p_len;
    } groups[] = {{"windows_client_group", NEGOEX_DH_GROUP_MODP2, 128}, {"sspi_rs_head_group", NEGOEX_DH_GROUP_MODP14, 256}};
    for (size_t i = 0; i < 2; i++) {
        negoex_dh_params jp;
        uint8_t *bufs[3];
        load_json_group(text, groups[i].name, &jp, bufs);
        const negoex_dh_params *bp = negoex_dh_group(groups[i].id);
        assert_non_null(bp);
        /* the built-in group is exactly what the peers send */
        assert_int_equal(bp->p_len, jp.p_len);
        assert_int_equal(bp->p_len, groups[i].p_len);
        assert_memory_equal(bp->p, jp.p, jp.p_len);
        assert_int_equal(bp->q_len, jp.q_len);
        assert_memory_equal(bp->q, jp.q, jp.q_len);
        assert_int_equal(bp->g_len, jp.g_len);
        assert_memory_equal(bp->g, jp.g, jp.g_len);
        assert_int_equal(negoex_dh_group_identify(&jp), groups[i].id);

        /* a leading zero (DER INTEGER sign byte) does not matter; q may be absent */
        uint8_t p0[257];
        p0[0] = 0;
        memcpy(p0 + 1, jp.p, jp.p_len);
        negoex_dh_params v = jp;
        v.p = p0;
        v.p_len = jp.p_len + 1;
        assert_int_equal(negoex_dh_group_identify(&v), groups[i].id);
        v.q = NULL;
        v.q_len = 0;
        assert_int_equal(negoex_dh_group_identify(&v), groups[i].id);
        /* another p, g or q is not the group */
        p0[jp.p_len] ^= 2;
        assert_int_equal(negoex_dh_group_identify(&v), NEGOEX_ERR_DH_GROUP);
        p0[jp.p_len] ^= 2;
        const uint8_t g5 = 5;
        v.g = &g5;
        assert_int_equal(negoex_dh_group_identify(&v), NEGOEX_ERR_DH_GROUP);
        v.g = jp.g;
        v.q = jp.p;
        v.q_len = jp.p_len;
        assert_int_equal(negoex_dh_group_identify(&v), NEGOEX_ERR_DH_GROUP);
        for (int k = 0; k < 3; k++)
            free(bufs[k]);
    }
    free(text);
    assert_null(negoex_dh_group(5));
    assert_int_equal(negoex_dh_group_identify(NULL), NEGOEX_ERR_INVALID_ARGUMENT);
}

static void test_dh_agreement(void **state)
{
    (void)state;
    const int ids[] = {NEGOEX_DH_GROUP_MODP2, NEGOEX_DH_GROUP_MODP14};
    for (size_t i = 0; i < 2; i++) {
        const negoex_dh_params *gp = negoex_dh_group(ids[i]);
        for (int round = 0; round < 3; round++) {
            negoex_dh_key *a = NULL, *b = NULL;
            assert_int_equal(negoex_dh_generate(gp, &a), 0);
            assert_int_equal(negoex_dh_generate(gp, &b), 0);
            assert_int_equal(negoex_dh_prime_len(a), gp->p_len);
            uint8_t ya[256], yb[256], za[256], zb[256];
            size_t ya_len = 0, yb_len = 0, za_len = 0, zb_len = 0;
            assert_int_equal(negoex_dh_public(a, ya, sizeof ya, &ya_len), 0);
            assert_int_equal(negoex_dh_public(b, yb, sizeof yb, &yb_len), 0);
            assert_true(ya_len <= gp->p_len && ya_len > gp->p_len - 8);
            assert_true(ya[0] != 0); /* minimal encoding */
            assert_int_equal(negoex_dh_check_public(gp, ya, ya_len), 0);
            assert_int_equal(negoex_dh_derive(a, yb, yb_len, za, sizeof za, &za_len), 0);
            assert_int_equal(negoex_dh_derive(b, ya, ya_len, zb, sizeof zb, &zb_len), 0);
            assert_int_equal(za_len, gp->p_len);
            assert_int_equal(zb_len, gp->p_len);
            assert_memory_equal(za, zb, za_len);
            assert_memory_not_equal(ya, yb, ya_len < yb_len ? ya_len : yb_len);
            /* leading zero bytes on the peer value are accepted */
            uint8_t yb0[260] = {0, 0};
            memcpy(yb0 + 2, yb, yb_len);
            assert_int_equal(negoex_dh_derive(a, yb0, yb_len + 2, za, sizeof za, &za_len), 0);
            assert_memory_equal(za, zb, zb_len);
            /* the derived key is the reply key input on both sides */
            negoex_krb_key ka, kb;
            const uint8_t nc[32] = {1}, nk[32] = {2};
            assert_int_equal(negoex_krb_octetstring2key(18, za, za_len, nc, 32, nk, 32, &ka), 0);
            assert_int_equal(negoex_krb_octetstring2key(18, zb, zb_len, nc, 32, nk, 32, &kb), 0);
            assert_memory_equal(ka.bytes, kb.bytes, 32);
            /* buffer sizes */
            assert_int_equal(negoex_dh_derive(a, yb, yb_len, za, gp->p_len - 1, &za_len), NEGOEX_ERR_BUFFER_TOO_SMALL);
            assert_int_equal(za_len, gp->p_len);
            assert_int_equal(negoex_dh_public(a, ya, 3, &ya_len), NEGOEX_ERR_BUFFER_TOO_SMALL);
            assert_true(ya_len > 3);
            negoex_dh_free(a);
            negoex_dh_free(b);
        }
    }
    negoex_dh_free(NULL);
}

/* p - k (k <= 255) as big-endian bytes of p's length; both primes end in
 * 64 one bits, so only the last byte changes. */
static void p_minus(const negoex_dh_params *gp, uint8_t k, uint8_t *out)
{
    memcpy(out, gp->p, gp->p_len);
    assert_int_equal(out[gp->p_len - 1], 0xff);
    out[gp->p_len - 1] = (uint8_t)(0xff - k);
}

/* p + 1 as big-endian bytes of p's length (p is not all ones). */
static void p_plus_one(const negoex_dh_params *gp, uint8_t *out)
{
    memcpy(out, gp->p, gp->p_len);
    for (size_t i = gp->p_len; i-- > 0;) {
        out[i] = (uint8_t)(out[i] + 1);
        if (out[i] != 0)
            break;
    }
}

static void test_dh_invalid_public(void **state)
{
    (void)state;
    const int ids[] = {NEGOEX_DH_GROUP_MODP2, NEGOEX_DH_GROUP_MODP14};
    for (size_t i = 0; i < 2; i++) {
        const negoex_dh_params *gp = negoex_dh_group(ids[i]);
        negoex_dh_key *a = NULL;
        assert_int_equal(negoex_dh_generate(gp, &a), 0);
        uint8_t v[260], zz[256];
        size_t zz_len = 0;
        const uint8_t zero = 0, one = 1, two = 2;
        /* 0, 1, p-1, p, p+1, a value longer than p, and empty */
        assert_int_equal(negoex_dh_derive(a, &zero, 1, zz, sizeof zz, &zz_len), NEGOEX_ERR_DH_PUBLIC);
        assert_int_equal(zz_len, 0);
        assert_int_equal(negoex_dh_derive(a, &one, 1, zz, sizeof zz, &zz_len), NEGOEX_ERR_DH_PUBLIC);
        p_minus(gp, 1, v);
        assert_int_equal(negoex_dh_derive(a, v, gp->p_len, zz, sizeof zz, &zz_len), NEGOEX_ERR_DH_PUBLIC);
        assert_int_equal(negoex_dh_check_public(gp, v, gp->p_len), NEGOEX_ERR_DH_PUBLIC);
        memcpy(v, gp->p, gp->p_len);
        assert_int_equal(negoex_dh_derive(a, v, gp->p_len, zz, sizeof zz, &zz_len), NEGOEX_ERR_DH_PUBLIC);
        p_plus_one(gp, v);
        assert_int_equal(negoex_dh_derive(a, v, gp->p_len, zz, sizeof zz, &zz_len), NEGOEX_ERR_DH_PUBLIC);
        memset(v, 0xff, gp->p_len + 1);
        assert_int_equal(negoex_dh_derive(a, v, gp->p_len + 1, zz, sizeof zz, &zz_len), NEGOEX_ERR_DH_PUBLIC);
        assert_int_equal(negoex_dh_derive(a, v, 0, zz, sizeof zz, &zz_len), NEGOEX_ERR_DH_PUBLIC);
        assert_int_equal(negoex_dh_derive(a, NULL, 0, zz, sizeof zz, &zz_len), NEGOEX_ERR_DH_PUBLIC);
        /* p-2 = -2 is in range but not in the order-q subgroup (p = 7 mod 8:
         * 2 is a square, -1 is not): refused with q. Without q only the
         * range can be checked for group 2; OpenSSL knows group 14 by p and
         * g and supplies q itself. */
        p_minus(gp, 2, v);
        assert_int_equal(negoex_dh_check_public(gp, v, gp->p_len), NEGOEX_ERR_DH_PUBLIC);
        assert_int_equal(negoex_dh_derive(a, v, gp->p_len, zz, sizeof zz, &zz_len), NEGOEX_ERR_DH_PUBLIC);
        negoex_dh_params noq = *gp;
        noq.q = NULL;
        noq.q_len = 0;
        assert_int_equal(negoex_dh_check_public(&noq, v, gp->p_len),
                         ids[i] == NEGOEX_DH_GROUP_MODP2 ? 0 : NEGOEX_ERR_DH_PUBLIC);
        /* 2 = g is a valid public value */
        assert_int_equal(negoex_dh_check_public(gp, &two, 1), 0);
        /* ZZ output is wiped on failure */
        memset(zz, 0x77, sizeof zz);
        assert_int_equal(negoex_dh_derive(a, &one, 1, zz, sizeof zz, &zz_len), NEGOEX_ERR_DH_PUBLIC);
        negoex_dh_free(a);
    }

    /* unacceptable parameters */
    negoex_dh_key *k = NULL;
    const negoex_dh_params *g2 = negoex_dh_group(NEGOEX_DH_GROUP_MODP2);
    negoex_dh_params bad = *g2;
    bad.p_len = 64; /* 512 bits */
    assert_int_equal(negoex_dh_generate(&bad, &k), NEGOEX_ERR_DH_GROUP);
    assert_null(k);
    uint8_t even[128];
    memcpy(even, g2->p, 128);
    even[127] ^= 1;
    bad = *g2;
    bad.p = even;
    assert_int_equal(negoex_dh_generate(&bad, &k), NEGOEX_ERR_DH_GROUP);
    bad = *g2;
    const uint8_t g1 = 1;
    bad.g = &g1;
    assert_int_equal(negoex_dh_generate(&bad, &k), NEGOEX_ERR_DH_GROUP);
    assert_int_equal(negoex_dh_generate(NULL, &k), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_dh_generate(g2, NULL), NEGOEX_ERR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------------------ */
/* Independent known answers (Python)                                         */
/* ------------------------------------------------------------------------ */

/*
 * Computed once with /usr/bin/python3 (hashlib, pow), independently of
 * OpenSSL and of this library:
 *   p, q = dh_groups.json "windows_client_group"; g = 2
 *   xa = int(sha256(b'libnegoex dh kat a').digest()*4) % q
 *   xb = int(sha256(b'libnegoex dh kat b %d' % i).digest()*4) % q, the first
 *        i (693) whose ZZ has a leading zero byte (tests the left padding)
 *   ya = pow(g, xa, p); yb = pow(g, xb, p); ZZ = pow(yb, xa, p) as 128 bytes
 *   nc = bytes(range(32)); nk = bytes(range(0x20, 0x40))
 *   k(x, n) = (sha1(b'\0' + x) + sha1(b'\1' + x) + ...)[:n]
 *   k256 = k(ZZ + nc + nk, 32); k128 = k(ZZ + nc + nk, 16); k256_nononce = k(ZZ, 32)
 *   cb = md5(pack('<II', 2, 4) + 192.0.2.1 + pack('<II', 0, 0) + pack('<I', len(app)) + app),
 *        app = b'tls-server-end-point:' + bytes(range(32))
 *   cb_app = the same with no initiator address (type 0, length 0)
 */
#define KAT_XA                                                                                                         \
    "396b6d06360833936cfcc4df4194377e1a552f31bfdd4d83e49a6a9118fbecd6396b6d06360833936cfcc4df4194377e1a552f31bfdd4d83e4" \
    "9a6a9118fbecd6396b6d06360833936cfcc4df4194377e1a552f31bfdd4d83e49a6a9118fbecd6396b6d06360833936cfcc4df4194377e1a55" \
    "2f31bfdd4d83e49a6a9118fbecd6"
#define KAT_XB                                                                                                         \
    "738ca96f280c895089ea70c02f7a50d04efd3ce768009a5790cb7ab3b95292b7f286ca1c0a82bbbf45cd59d47914af7bb995e15341d187328d" \
    "371c810556eed64b9c0eb87163a82d7c2f83560eff7287373a4cb85552b20a9f4cf35c84831cfafc7073717ac7b97d9722cc08820921f78ccc" \
    "3b0431fb7eff254ca1b7fe8678f2"
#define KAT_YA                                                                                                         \
    "4d770855ca1420dc932989755c9970df8cc94740e513010795e088857ec555994b59ec899df73f3b1f359ce7e4f6d28ed2a88a08c3fdf4d9e4" \
    "6deb873264cd77ac6c2b61200fc17bcc7fa1c6c7efbd262db2088fa7001e3c912bd12a0e27e52ec83d05658d02c145a416e9210bfc7e938cba" \
    "22e01b4228e6518fa5b14a9a56cc"
#define KAT_YB                                                                                                         \
    "debe9658deaf8a120d76c91251f39f98238100c9901149672f8cd3af8fccdb2d84cdc29db8d0b78dff49be7e5889ce990ee1e6d5e8b468d7a5" \
    "018e488c5a102525ca67728b78e2d118e141850ec3120f4de8946ddade20fe513770ad12710b0214dc7948eb5f8f3074135838b0f72392cc54" \
    "261b741eeaf195d7dbe0ac03da30"
#define KAT_ZZ                                                                                                         \
    "00a2f1725086467dbb31c96a821a31516417ef5d838f6fec222d143c064b7ae41b16f9482679dfcfbfb18261055a0cfd2e418f444e732df0c1" \
    "37f729599f9326236d2f0983880231d83058fc8730b317db29dbc671d7c4432783d1a09fafcf763746049fb95663899468479e6659b1160dd4" \
    "5d9e8e4900ec0a8bb99084f653e3"
#define KAT_K256 "3b5f45eff672c551f94b616cdc6168f4e5ddf2499b1fc075b7b304459cdcf99f"
#define KAT_K128 "3b5f45eff672c551f94b616cdc6168f4"
#define KAT_K256_NONONCE "fa433db0e6b8a99970e0bc4c94d415d0522dbf011436f674371462c386d7fdf8"
#define KAT_CB "7cd9a092dc8f2422be0a5a66f8e3657f"
#define KAT_CB_APP "8f1214c9c9cab8dc3bf866da9aba57a7"

static void test_python_kats(void **state)
{
    (void)state;
    const negoex_dh_params *g2 = negoex_dh_group(NEGOEX_DH_GROUP_MODP2);
    size_t xa_len = 0, xb_len = 0, ya_len = 0, yb_len = 0, zz_len = 0;
    uint8_t *xa = unhex(KAT_XA, &xa_len), *xb = unhex(KAT_XB, &xb_len);
    uint8_t *ya = unhex(KAT_YA, &ya_len), *yb = unhex(KAT_YB, &yb_len);
    uint8_t *zz = unhex(KAT_ZZ, &zz_len);
    assert_int_equal(zz_len, 128);
    assert_int_equal(zz[0], 0); /* the padding case */

    negoex_dh_key *a = NULL, *b = NULL;
    assert_int_equal(negoex_dh_from_private(g2, xa, xa_len, &a), 0);
    assert_int_equal(negoex_dh_from_private(g2, xb, xb_len, &b), 0);
    uint8_t y[128], z[128];
    size_t y_len = 0, z_len = 0;
    assert_int_equal(negoex_dh_public(a, y, sizeof y, &y_len), 0);
    assert_int_equal(y_len, ya_len);
    assert_memory_equal(y, ya, ya_len);
    assert_int_equal(negoex_dh_public(b, y, sizeof y, &y_len), 0);
    assert_int_equal(y_len, yb_len);
    assert_memory_equal(y, yb, yb_len);
    assert_int_equal(negoex_dh_derive(a, yb, yb_len, z, sizeof z, &z_len), 0);
    assert_int_equal(z_len, 128);
    assert_memory_equal(z, zz, 128);
    assert_int_equal(negoex_dh_derive(b, ya, ya_len, z, sizeof z, &z_len), 0);
    assert_memory_equal(z, zz, 128);
    /* private value out of range */
    negoex_dh_key *bad = NULL;
    const uint8_t zero = 0;
    assert_int_equal(negoex_dh_from_private(g2, &zero, 1, &bad), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_dh_from_private(g2, g2->q, g2->q_len, &bad), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_null(bad);
    negoex_dh_free(a);
    negoex_dh_free(b);

    /* octetstring2key(ZZ || n_c || n_k) */
    uint8_t nc[32], nk[32], k256[32], k128[16], k256n[32];
    for (int i = 0; i < 32; i++) {
        nc[i] = (uint8_t)i;
        nk[i] = (uint8_t)(0x20 + i);
    }
    unhex_into(KAT_K256, k256, 32);
    unhex_into(KAT_K128, k128, 16);
    unhex_into(KAT_K256_NONONCE, k256n, 32);
    negoex_krb_key k;
    assert_int_equal(negoex_krb_octetstring2key(18, zz, 128, nc, 32, nk, 32, &k), 0);
    assert_int_equal(k.enctype, 18);
    assert_int_equal(k.len, 32);
    assert_memory_equal(k.bytes, k256, 32);
    assert_int_equal(negoex_krb_octetstring2key(17, zz, 128, nc, 32, nk, 32, &k), 0);
    assert_int_equal(k.len, 16);
    assert_memory_equal(k.bytes, k128, 16);
    assert_int_equal(negoex_krb_octetstring2key(18, zz, 128, NULL, 0, NULL, 0, &k), 0);
    assert_memory_equal(k.bytes, k256n, 32);
    /* x is the plain concatenation: moving bytes between the parts changes nothing */
    uint8_t x[128 + 64];
    memcpy(x, zz, 128);
    memcpy(x + 128, nc, 32);
    memcpy(x + 160, nk, 32);
    assert_int_equal(negoex_krb_octetstring2key(18, x, 150, x + 150, 20, x + 170, 22, &k), 0);
    assert_memory_equal(k.bytes, k256, 32);
    /* ZZ without its leading zero is another secret */
    assert_int_equal(negoex_krb_octetstring2key(18, zz + 1, 127, nc, 32, nk, 32, &k), 0);
    assert_memory_not_equal(k.bytes, k256, 32);
    assert_int_equal(negoex_krb_octetstring2key(23, zz, 128, nc, 32, nk, 32, &k), NEGOEX_ERR_KRB_ENCTYPE);
    assert_int_equal(negoex_krb_octetstring2key(18, NULL, 0, nc, 32, nk, 32, &k), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_krb_octetstring2key(18, zz, 128, NULL, 32, nk, 32, &k), NEGOEX_ERR_INVALID_ARGUMENT);

    /* channel bindings hash */
    static const uint8_t ip[4] = {192, 0, 2, 1};
    uint8_t app[21 + 32];
    memcpy(app, "tls-server-end-point:", 21);
    for (int i = 0; i < 32; i++)
        app[21 + i] = (uint8_t)i;
    negoex_gss_channel_bindings cb;
    memset(&cb, 0, sizeof cb);
    cb.initiator_addrtype = 2;
    cb.initiator_address = ip;
    cb.initiator_address_len = 4;
    cb.application_data = app;
    cb.application_data_len = sizeof app;
    uint8_t bnd[16], expect[16];
    assert_int_equal(negoex_gss_channel_bindings_hash(&cb, bnd), 0);
    unhex_into(KAT_CB, expect, 16);
    assert_memory_equal(bnd, expect, 16);
    memset(&cb, 0, sizeof cb);
    cb.application_data = app;
    cb.application_data_len = sizeof app;
    assert_int_equal(negoex_gss_channel_bindings_hash(&cb, bnd), 0);
    unhex_into(KAT_CB_APP, expect, 16);
    assert_memory_equal(bnd, expect, 16);
    cb.application_data = NULL;
    assert_int_equal(negoex_gss_channel_bindings_hash(&cb, bnd), NEGOEX_ERR_INVALID_ARGUMENT);

    free(xa);
    free(xb);
    free(ya);
    free(yb);
    free(zz);
}

/* New error codes have names and texts. */
static void test_error_texts(void **state)
{
    (void)state;
    const int codes[] = {NEGOEX_ERR_KRB_MALFORMED, NEGOEX_ERR_KRB_INTEGRITY, NEGOEX_ERR_KRB_DIRECTION,
                         NEGOEX_ERR_KRB_ENCTYPE,   NEGOEX_ERR_DH_PUBLIC,     NEGOEX_ERR_DH_GROUP};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        assert_true(codes[i] <= -80 && codes[i] >= -99);
        assert_string_not_equal(negoex_strerror(codes[i]), "unknown error");
    }
}

/* Our DK (n-fold + AES-ECB blocks, for speed) must be OpenSSL's KRB5KDF for
 * every usage key: both enctypes, many keys, usages and the three kinds. */
static void test_dk_matches_openssl_krb5kdf(void **state)
{
    (void)state;
    static const int32_t usages[] = {0, 1, 2, 3, 22, 23, 24, 25, 41, 63, 64, 65, 255, 256, 1023, 0x4e58, 65535,
                                     0x7fffffff, -1, -2, -1000};
    static const uint8_t kinds[] = {0x99, 0xAA, 0x55};
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_KRB5KDF, NULL);
    assert_non_null(kdf);
    unsigned checked = 0;
    for (int e = 0; e < 2; e++) {
        int32_t enctype = e ? 18 : 17;
        size_t klen = e ? 32 : 16;
        for (unsigned k = 0; k < 8; k++) {
            uint8_t raw[32];
            for (size_t i = 0; i < klen; i++)
                raw[i] = (uint8_t)(k * 37u + i * 11u + (unsigned)e);
            negoex_krb_key base;
            assert_int_equal(negoex_krb_key_init(&base, enctype, raw, klen), 0);
            for (size_t u = 0; u < sizeof usages / sizeof usages[0]; u++) {
                for (size_t w = 0; w < sizeof kinds; w++) {
                    uint8_t constant[5] = {(uint8_t)((uint32_t)usages[u] >> 24), (uint8_t)((uint32_t)usages[u] >> 16),
                                           (uint8_t)((uint32_t)usages[u] >> 8), (uint8_t)usages[u], kinds[w]};
                    negoex_krb_key ours;
                    assert_int_equal(negoex_krb_usage_key(&base, usages[u], kinds[w], &ours), 0);
                    uint8_t ref[32];
                    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
                    assert_non_null(ctx);
                    OSSL_PARAM params[4];
                    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_CIPHER,
                                                                 e ? "AES-256-CBC" : "AES-128-CBC", 0);
                    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, raw, klen);
                    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_CONSTANT, constant, sizeof constant);
                    params[3] = OSSL_PARAM_construct_end();
                    assert_int_equal(EVP_KDF_derive(ctx, ref, klen, params), 1);
                    EVP_KDF_CTX_free(ctx);
                    assert_int_equal(ours.len, klen);
                    assert_memory_equal(ours.bytes, ref, klen);
                    checked++;
                }
            }
        }
    }
    EVP_KDF_free(kdf);
    assert_int_equal(checked, 2u * 8u * (sizeof usages / sizeof usages[0]) * 3u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nfold_rfc3961),
        cmocka_unit_test(test_dk_matches_openssl_krb5kdf),
        cmocka_unit_test(test_string_to_key_rfc3962),
        cmocka_unit_test(test_cts_rfc3962),
        cmocka_unit_test(test_mit_known_ciphertexts),
        cmocka_unit_test(test_encrypt_roundtrip),
        cmocka_unit_test(test_checksum_shared),
        cmocka_unit_test(test_windows_krb_finished),
        cmocka_unit_test(test_windows_wrap_token),
        cmocka_unit_test(test_mic_tokens),
        cmocka_unit_test(test_wrap_tokens),
        cmocka_unit_test(test_ap_cksum_windows),
        cmocka_unit_test(test_dh_groups),
        cmocka_unit_test(test_dh_agreement),
        cmocka_unit_test(test_dh_invalid_public),
        cmocka_unit_test(test_python_kats),
        cmocka_unit_test(test_error_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
