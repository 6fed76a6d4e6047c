/*
 * RFC 3961 / RFC 3962 / RFC 4556 crypto through OpenSSL 3 (see krb_crypto.h).
 *
 * Algorithms are fetched once per process (first use, CRYPTO_THREAD_run_once)
 * from the default library context and only read afterwards: a fetch by name
 * (method store lookup, property query, OSSL_PARAM parsing) used to cost more
 * than the few AES blocks and SHA-1 blocks a checksum computes. Per call there
 * are only contexts, created from those objects and freed (cleansed) before
 * return, so no key material outlives a call.
 */
#include "pku2u/krb_crypto.h"

#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define SHA1_LEN 20
#define USAGE_CONSTANT_LEN 5
#define NFOLD_MAX 256
#define DK_CONSTANT_MAX 256

typedef struct aes_profile {
    int32_t enctype;
    int32_t cksumtype;
    size_t key_len;
    const char *ecb; /* DK's one-block encryptions */
    const char *cts; /* encryption */
} aes_profile;

#define NPROFILES 2
static const aes_profile PROFILES[NPROFILES] = {
    {NEGOEX_ENCTYPE_AES128_CTS_HMAC_SHA1_96, NEGOEX_CKSUMTYPE_HMAC_SHA1_96_AES128, 16, "AES-128-ECB",
     "AES-128-CBC-CTS"},
    {NEGOEX_ENCTYPE_AES256_CTS_HMAC_SHA1_96, NEGOEX_CKSUMTYPE_HMAC_SHA1_96_AES256, 32, "AES-256-ECB",
     "AES-256-CBC-CTS"},
};

/* ------------------------------------------------------------------------ */
/* Algorithms, fetched once                                                   */
/* ------------------------------------------------------------------------ */

/* The derivation kinds of a usage key (RFC 3961 5.3), and the usages whose
 * n-folded derivation constants are computed once: folding the five-byte
 * constant costs about as much as the AES blocks of the derivation itself,
 * and Kerberos and NEGOEX key usages are small numbers. */
#define USAGE_FOLDS 64
static const uint8_t WHICH[3] = {NEGOEX_KRB_DK_CHECKSUM, NEGOEX_KRB_DK_ENCRYPT, NEGOEX_KRB_DK_INTEGRITY};

static int which_index(uint8_t which)
{
    for (int i = 0; i < 3; i++)
        if (WHICH[i] == which)
            return i;
    return -1;
}

/* usage (big-endian 32 bits) || which */
static void usage_constant(int32_t usage, uint8_t which, uint8_t constant[USAGE_CONSTANT_LEN])
{
    uint32_t u = (uint32_t)usage;
    constant[0] = (uint8_t)(u >> 24);
    constant[1] = (uint8_t)(u >> 16);
    constant[2] = (uint8_t)(u >> 8);
    constant[3] = (uint8_t)u;
    constant[4] = which;
}

/*
 * Written once by algs_init (under CRYPTO_THREAD_run_once, which orders the
 * writes before every later reader), then only read: EVP_CIPHER, EVP_MD and
 * EVP_KDF objects are immutable and reference counted, and the HMAC template
 * is only ever the source of EVP_MAC_CTX_dup. A NULL entry (fetch failed, e.g.
 * a provider without the algorithm) makes only the functions that need it
 * fail, with NEGOEX_ERR_CRYPTO, as a failed per-call fetch did.
 *
 * Never freed: they are process-lifetime objects referenced from here (not
 * leaks to LeakSanitizer or valgrind). No OPENSSL_atexit handler on purpose:
 * libnegoex is also linked into dlopen'ed modules (gss/negoex_gss.so), and a
 * libcrypto linked with -z nodelete (Debian's is) does not pin the module that
 * registered a handler, so the handler could be called after a dlclose.
 */
typedef struct krb_algs {
    /* n-fold(usage || WHICH[w], 16) for usage < USAGE_FOLDS: public constants */
    uint8_t usage_fold[USAGE_FOLDS][3][NEGOEX_KRB_BLOCK_LEN];
    EVP_CIPHER *ecb[NPROFILES];
    EVP_CIPHER *cts[NPROFILES];
    EVP_MAC_CTX *hmac_sha1; /* template: HMAC with digest SHA1, no key */
    EVP_MD *sha1;
    EVP_KDF *pbkdf2;
} krb_algs;

static krb_algs ALGS;
static CRYPTO_ONCE algs_once = CRYPTO_ONCE_STATIC_INIT;

static void algs_init(void)
{
    for (int32_t u = 0; u < USAGE_FOLDS; u++) {
        for (int w = 0; w < 3; w++) {
            uint8_t constant[USAGE_CONSTANT_LEN];
            usage_constant(u, WHICH[w], constant);
            (void)negoex_krb_nfold(constant, sizeof constant, ALGS.usage_fold[u][w], NEGOEX_KRB_BLOCK_LEN);
        }
    }
    for (size_t i = 0; i < NPROFILES; i++) {
        ALGS.ecb[i] = EVP_CIPHER_fetch(NULL, PROFILES[i].ecb, NULL);
        ALGS.cts[i] = EVP_CIPHER_fetch(NULL, PROFILES[i].cts, NULL);
    }
    ALGS.sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    ALGS.pbkdf2 = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_PBKDF2, NULL);
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *hmac = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac); /* the context keeps its own reference */
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA1", 0),
        OSSL_PARAM_construct_end(),
    };
    if (hmac != NULL && EVP_MAC_CTX_set_params(hmac, params) != 1) {
        EVP_MAC_CTX_free(hmac);
        hmac = NULL;
    }
    ALGS.hmac_sha1 = hmac;
}

/* The fetched algorithms; NULL only if the once-initialisation itself failed. */
static const krb_algs *algs(void)
{
    return CRYPTO_THREAD_run_once(&algs_once, algs_init) == 1 ? &ALGS : NULL;
}

/* The profile's fetched ECB (DK) or CTS cipher, NULL if unavailable. */
static const EVP_CIPHER *profile_cipher(const aes_profile *p, int cts)
{
    const krb_algs *a = algs();
    if (a == NULL)
        return NULL;
    size_t i = (size_t)(p - PROFILES);
    return cts ? a->cts[i] : a->ecb[i];
}

static const aes_profile *profile_for(int32_t enctype)
{
    for (size_t i = 0; i < sizeof PROFILES / sizeof PROFILES[0]; i++)
        if (PROFILES[i].enctype == enctype)
            return &PROFILES[i];
    return NULL;
}

static const aes_profile *profile_for_len(size_t key_len)
{
    for (size_t i = 0; i < sizeof PROFILES / sizeof PROFILES[0]; i++)
        if (PROFILES[i].key_len == key_len)
            return &PROFILES[i];
    return NULL;
}

/* The profile of a well-formed key, NULL otherwise. */
static const aes_profile *key_profile(const negoex_krb_key *key)
{
    if (key == NULL)
        return NULL;
    const aes_profile *p = profile_for(key->enctype);
    return p != NULL && key->len == p->key_len ? p : NULL;
}

/* NEGOEX_ERR_INVALID_ARGUMENT for NULL, the enctype or size error otherwise. */
static int key_error(const negoex_krb_key *key)
{
    if (key == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    return profile_for(key->enctype) == NULL ? NEGOEX_ERR_KRB_ENCTYPE : NEGOEX_ERR_KEY_SIZE;
}

/* ------------------------------------------------------------------------ */
/* Keys                                                                       */
/* ------------------------------------------------------------------------ */

size_t negoex_krb_key_length(int32_t enctype)
{
    const aes_profile *p = profile_for(enctype);
    return p != NULL ? p->key_len : 0;
}

int negoex_krb_key_init(negoex_krb_key *key, int32_t enctype, const uint8_t *bytes, size_t len)
{
    if (key == NULL || bytes == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    const aes_profile *p = profile_for(enctype);
    if (p == NULL)
        return NEGOEX_ERR_KRB_ENCTYPE;
    if (len != p->key_len)
        return NEGOEX_ERR_KEY_SIZE;
    /* bytes may alias key->bytes */
    memmove(key->bytes, bytes, len);
    if (len < sizeof key->bytes)
        OPENSSL_cleanse(key->bytes + len, sizeof key->bytes - len);
    key->enctype = enctype;
    key->len = len;
    return 0;
}

void negoex_krb_key_clear(negoex_krb_key *key)
{
    if (key != NULL)
        OPENSSL_cleanse(key, sizeof *key);
}

int negoex_krb_key_random(negoex_krb_key *key, int32_t enctype)
{
    if (key == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    const aes_profile *p = profile_for(enctype);
    if (p == NULL)
        return NEGOEX_ERR_KRB_ENCTYPE;
    uint8_t rnd[NEGOEX_KRB_MAX_KEY_LEN];
    int rc = RAND_priv_bytes(rnd, (int)p->key_len) == 1 ? 0 : NEGOEX_ERR_RNG;
    if (rc == 0)
        rc = negoex_krb_random_to_key(enctype, rnd, p->key_len, key);
    OPENSSL_cleanse(rnd, sizeof rnd);
    return rc;
}

int negoex_krb_random_to_key(int32_t enctype, const uint8_t *random, size_t random_len, negoex_krb_key *out)
{
    /* RFC 3962 6: random-to-key is the identity for the AES enctypes; the
     * key-generation seed length is the key length. */
    return negoex_krb_key_init(out, enctype, random, random_len);
}

/* ------------------------------------------------------------------------ */
/* n-fold                                                                     */
/* ------------------------------------------------------------------------ */

static size_t gcd(size_t a, size_t b)
{
    while (b != 0) {
        size_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

int negoex_krb_nfold(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len)
{
    if (in == NULL || out == NULL || in_len == 0 || out_len == 0 || in_len > NFOLD_MAX || out_len > NFOLD_MAX)
        return NEGOEX_ERR_INVALID_ARGUMENT;

    /* RFC 3961 5.1: replicate the input to lcm(in, out) bytes, copy k being
     * the input rotated right by 13*k bits, then add the out-sized pieces in
     * ones' complement (end-around carry). Working from the last byte to the
     * first, the carry out of each piece's first byte runs into the next
     * piece's last byte, which is the end-around carry applied early (the
     * sum is associative); whatever carry is left is added at the end. */
    size_t lcm = in_len / gcd(in_len, out_len) * out_len;
    size_t nbits = in_len * 8;
    /* The input twice, so that a byte starting at any bit of the input can
     * be read from two consecutive bytes without wrapping. */
    uint8_t twice[2 * NFOLD_MAX];
    memcpy(twice, in, in_len);
    memcpy(twice + in_len, in, in_len);
    uint8_t acc[NFOLD_MAX];
    memset(acc, 0, out_len);
    unsigned carry = 0;
    size_t o = out_len - 1; /* (lcm - 1) % out_len: lcm is a multiple of out_len */
    for (size_t copy = lcm / in_len; copy-- > 0;) {
        /* Bit 8j+t of the copy is bit (8j+t-rot) mod nbits of the input. As
         * nbits is a multiple of 8, the copy's byte j starts at input bit
         * 8a+s with a shift s that is the same for every byte of the copy,
         * and a going down by one (cyclically) with j. */
        size_t rot = (13 * copy) % nbits;
        size_t src = 8 * (in_len - 1) + nbits - rot;
        if (src >= nbits)
            src -= nbits;
        size_t a = src / 8;
        unsigned s = (unsigned)(src % 8);
        for (size_t j = in_len; j-- > 0;) {
            /* s == 0: the second term is 0 (a byte shifted right by 8) */
            unsigned byte = (((unsigned)twice[a] << s) | ((unsigned)twice[a + 1] >> (8 - s))) & 0xffu;
            carry += acc[o] + byte;
            acc[o] = (uint8_t)carry;
            carry >>= 8;
            o = o == 0 ? out_len - 1 : o - 1;
            a = a == 0 ? in_len - 1 : a - 1;
        }
    }
    while (carry != 0) {
        for (size_t i = out_len; i-- > 0 && carry != 0;) {
            carry += acc[i];
            acc[i] = (uint8_t)carry;
            carry >>= 8;
        }
    }
    memcpy(out, acc, out_len);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* DK (RFC 3961 5.1)                                                         */
/* ------------------------------------------------------------------------ */

/* DR(base, folded) = K1 || K2 || ... truncated to the key length, with K1 =
 * E(base, folded) and K(i+1) = E(base, Ki), each E from the initial cipher
 * state (zero IV): one block of AES-CBC with a zero IV, which is one block of
 * AES-ECB. DK = random-to-key(DR) = DR for AES. The same bytes as OpenSSL's
 * KRB5KDF (which needs the constant at most one block long), whose context
 * cannot be duplicated in OpenSSL 3.0 and which fetches its cipher by name
 * on every derivation. base is well-formed (profile p). */
static int dk_folded(const aes_profile *p, const negoex_krb_key *base, const uint8_t folded[NEGOEX_KRB_BLOCK_LEN],
                     negoex_krb_key *out)
{
    uint8_t block[NEGOEX_KRB_BLOCK_LEN];
    uint8_t derived[NEGOEX_KRB_MAX_KEY_LEN];
    memcpy(block, folded, sizeof block);
    int rc = NEGOEX_ERR_CRYPTO;
    const EVP_CIPHER *ecb = profile_cipher(p, 0);
    EVP_CIPHER_CTX *ctx = ecb != NULL ? EVP_CIPHER_CTX_new() : NULL;
    /* No EVP_EncryptFinal, so padding never applies: an encryption update
     * of whole blocks returns them all (checked: n == one block). */
    if (ctx != NULL && EVP_EncryptInit_ex2(ctx, ecb, base->bytes, NULL, NULL) == 1) {
        size_t have = 0;
        while (have < p->key_len) {
            int n = 0;
            if (EVP_EncryptUpdate(ctx, block, &n, block, (int)sizeof block) != 1 || n != (int)sizeof block)
                break;
            size_t take = p->key_len - have < sizeof block ? p->key_len - have : sizeof block;
            memcpy(derived + have, block, take);
            have += take;
        }
        if (have == p->key_len)
            rc = 0;
    }
    /* Freeing the context cleanses the key schedule of the base key. */
    EVP_CIPHER_CTX_free(ctx);
    if (rc == 0)
        rc = negoex_krb_key_init(out, p->enctype, derived, p->key_len);
    OPENSSL_cleanse(derived, sizeof derived);
    OPENSSL_cleanse(block, sizeof block);
    return rc;
}

int negoex_krb_dk(const negoex_krb_key *base, const uint8_t *constant, size_t constant_len, negoex_krb_key *out)
{
    const aes_profile *p = key_profile(base);
    if (p == NULL)
        return key_error(base);
    if (out == NULL || constant == NULL || constant_len == 0 || constant_len > DK_CONSTANT_MAX)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    uint8_t folded[NEGOEX_KRB_BLOCK_LEN];
    int rc = negoex_krb_nfold(constant, constant_len, folded, sizeof folded);
    return rc == 0 ? dk_folded(p, base, folded, out) : rc;
}

int negoex_krb_usage_key(const negoex_krb_key *base, int32_t usage, uint8_t which, negoex_krb_key *out)
{
    int w = which_index(which);
    if (w < 0)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    const krb_algs *a = algs();
    if (a == NULL || usage < 0 || usage >= USAGE_FOLDS) {
        uint8_t constant[USAGE_CONSTANT_LEN];
        usage_constant(usage, which, constant);
        return negoex_krb_dk(base, constant, sizeof constant, out);
    }
    /* The same checks as negoex_krb_dk, with the fold computed once. */
    const aes_profile *p = key_profile(base);
    if (p == NULL)
        return key_error(base);
    if (out == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    return dk_folded(p, base, a->usage_fold[usage][w], out);
}

/* ------------------------------------------------------------------------ */
/* string-to-key (RFC 3962 4)                                                 */
/* ------------------------------------------------------------------------ */

int negoex_krb_string_to_key(int32_t enctype, const uint8_t *password, size_t password_len, const uint8_t *salt,
                             size_t salt_len, uint32_t iterations, negoex_krb_key *out)
{
    static const uint8_t kerberos[] = {'k', 'e', 'r', 'b', 'e', 'r', 'o', 's'};
    static const uint8_t empty[1] = {0};
    if (out == NULL || (password == NULL && password_len != 0) || (salt == NULL && salt_len != 0) ||
        iterations == 0)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    const aes_profile *p = profile_for(enctype);
    if (p == NULL)
        return NEGOEX_ERR_KRB_ENCTYPE;

    uint8_t tkey_bytes[NEGOEX_KRB_MAX_KEY_LEN];
    negoex_krb_key tkey;
    uint64_t iter = iterations;
    int pkcs5 = 1; /* plain PKCS #5: no SP 800-132 lower bounds (the RFC vectors use 1 iteration) */
    int rc = NEGOEX_ERR_CRYPTO;
    const krb_algs *a = algs();
    EVP_KDF_CTX *kctx = a != NULL && a->pbkdf2 != NULL ? EVP_KDF_CTX_new(a->pbkdf2) : NULL;
    if (kctx != NULL) {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
                                              (void *)(password_len != 0 ? password : empty), password_len),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)(salt_len != 0 ? salt : empty),
                                              salt_len),
            OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_ITER, &iter),
            OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA1", 0),
            OSSL_PARAM_construct_int(OSSL_KDF_PARAM_PKCS5, &pkcs5),
            OSSL_PARAM_construct_end(),
        };
        if (EVP_KDF_derive(kctx, tkey_bytes, p->key_len, params) == 1)
            rc = 0;
    }
    EVP_KDF_CTX_free(kctx);
    if (rc == 0)
        rc = negoex_krb_random_to_key(enctype, tkey_bytes, p->key_len, &tkey);
    if (rc == 0)
        rc = negoex_krb_dk(&tkey, kerberos, sizeof kerberos, out);
    OPENSSL_cleanse(tkey_bytes, sizeof tkey_bytes);
    negoex_krb_key_clear(&tkey);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* PKINIT octetstring2key (RFC 4556 3.2.3.1)                                  */
/* ------------------------------------------------------------------------ */

int negoex_krb_octetstring2key(int32_t enctype, const uint8_t *shared_secret, size_t shared_secret_len,
                               const uint8_t *client_nonce, size_t client_nonce_len, const uint8_t *server_nonce,
                               size_t server_nonce_len, negoex_krb_key *out)
{
    if (out == NULL || shared_secret == NULL || shared_secret_len == 0 ||
        (client_nonce == NULL && client_nonce_len != 0) || (server_nonce == NULL && server_nonce_len != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    const aes_profile *p = profile_for(enctype);
    if (p == NULL)
        return NEGOEX_ERR_KRB_ENCTYPE;

    /* K-truncate(SHA1(0 || x) || SHA1(1 || x) || ...), x = ZZ || n_c || n_k,
     * one-octet counter; two blocks cover 32 bytes. */
    uint8_t stream[2 * SHA1_LEN];
    size_t have = 0;
    int rc = 0;
    const krb_algs *a = algs();
    const EVP_MD *sha1 = a != NULL ? a->sha1 : NULL;
    EVP_MD_CTX *md = sha1 != NULL ? EVP_MD_CTX_new() : NULL;
    if (md == NULL)
        rc = NEGOEX_ERR_CRYPTO;
    for (uint8_t counter = 0; rc == 0 && have < p->key_len; counter++) {
        unsigned int n = 0;
        if (EVP_DigestInit_ex2(md, sha1, NULL) != 1 || EVP_DigestUpdate(md, &counter, 1) != 1 ||
            EVP_DigestUpdate(md, shared_secret, shared_secret_len) != 1 ||
            (client_nonce_len != 0 && EVP_DigestUpdate(md, client_nonce, client_nonce_len) != 1) ||
            (server_nonce_len != 0 && EVP_DigestUpdate(md, server_nonce, server_nonce_len) != 1) ||
            EVP_DigestFinal_ex(md, stream + have, &n) != 1 || n != SHA1_LEN)
            rc = NEGOEX_ERR_CRYPTO;
        else
            have += SHA1_LEN;
    }
    /* The digest context holds hash state of the shared secret. */
    EVP_MD_CTX_free(md);
    if (rc == 0)
        rc = negoex_krb_random_to_key(enctype, stream, p->key_len, out);
    OPENSSL_cleanse(stream, sizeof stream);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* AES-CBC-CTS (RFC 3962 5)                                                   */
/* ------------------------------------------------------------------------ */

int negoex_krb_aes_cts(int encrypt, const uint8_t *key, size_t key_len, const uint8_t *iv, const uint8_t *in,
                       size_t len, uint8_t *out, uint8_t *next_iv)
{
    static const uint8_t zero_iv[NEGOEX_KRB_BLOCK_LEN] = {0};
    const aes_profile *p = profile_for_len(key_len);
    if (key == NULL || in == NULL || out == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (p == NULL)
        return NEGOEX_ERR_KEY_SIZE;
    if (len < NEGOEX_KRB_BLOCK_LEN || len > INT_MAX)
        return NEGOEX_ERR_INVALID_ARGUMENT;

    /* The cipher state for a following message is the next-to-last
     * ciphertext block (RFC 3962 5; the last one for a single block). Taken
     * before an in-place decryption overwrites it. */
    uint8_t chain[NEGOEX_KRB_BLOCK_LEN];
    size_t chain_at = len > NEGOEX_KRB_BLOCK_LEN ? ((len - 1) / NEGOEX_KRB_BLOCK_LEN - 1) * NEGOEX_KRB_BLOCK_LEN : 0;
    if (!encrypt && next_iv != NULL)
        memcpy(chain, in + chain_at, sizeof chain);

    int rc = NEGOEX_ERR_CRYPTO;
    const EVP_CIPHER *cipher = profile_cipher(p, 1);
    EVP_CIPHER_CTX *ctx = cipher != NULL ? EVP_CIPHER_CTX_new() : NULL;
    if (ctx != NULL) {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_CIPHER_PARAM_CTS_MODE, (char *)"CS3", 0),
            OSSL_PARAM_construct_end(),
        };
        int n = 0, fin = 0;
        if (EVP_CipherInit_ex2(ctx, cipher, key, iv != NULL ? iv : zero_iv, encrypt ? 1 : 0, params) == 1 &&
            EVP_CipherUpdate(ctx, out, &n, in, (int)len) == 1 && (size_t)n == len &&
            EVP_CipherFinal_ex(ctx, out + n, &fin) == 1 && fin == 0)
            rc = 0;
    }
    /* Frees the key schedule (OpenSSL cleanses it). */
    EVP_CIPHER_CTX_free(ctx);
    if (rc != 0) {
        OPENSSL_cleanse(out, len);
        return rc;
    }
    if (next_iv != NULL)
        memcpy(next_iv, encrypt ? out + chain_at : chain, NEGOEX_KRB_BLOCK_LEN);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* HMAC-SHA1 over chunks                                                      */
/* ------------------------------------------------------------------------ */

static int hmac_sha1(const negoex_krb_key *k, const negoex_krb_chunk *chunks, size_t n, uint8_t out[SHA1_LEN])
{
    int rc = NEGOEX_ERR_CRYPTO;
    size_t out_len = 0;
    const krb_algs *a = algs();
    /* A copy of the keyless template: the digest is already set. */
    EVP_MAC_CTX *mctx = a != NULL && a->hmac_sha1 != NULL ? EVP_MAC_CTX_dup(a->hmac_sha1) : NULL;
    if (mctx != NULL) {
        int ok = EVP_MAC_init(mctx, k->bytes, k->len, NULL) == 1;
        for (size_t i = 0; ok && i < n; i++)
            if (chunks[i].len != 0)
                ok = EVP_MAC_update(mctx, chunks[i].data, chunks[i].len) == 1;
        if (ok && EVP_MAC_final(mctx, out, &out_len, SHA1_LEN) == 1 && out_len == SHA1_LEN)
            rc = 0;
    }
    /* Frees the key schedule derived from the key (OpenSSL cleanses it). */
    EVP_MAC_CTX_free(mctx);
    if (rc != 0)
        OPENSSL_cleanse(out, SHA1_LEN);
    return rc;
}

static int chunks_valid(const negoex_krb_chunk *chunks, size_t n)
{
    if (chunks == NULL && n != 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (chunks[i].data == NULL && chunks[i].len != 0)
            return 0;
    return 1;
}

/* HMAC-SHA1-96 under DK(key, usage || which). */
static int hmac96(const negoex_krb_key *key, int32_t usage, uint8_t which, const negoex_krb_chunk *chunks, size_t n,
                  uint8_t out[NEGOEX_KRB_HMAC_LEN])
{
    negoex_krb_key k;
    uint8_t full[SHA1_LEN];
    int rc = negoex_krb_usage_key(key, usage, which, &k);
    if (rc == 0)
        rc = hmac_sha1(&k, chunks, n, full);
    if (rc == 0)
        memcpy(out, full, NEGOEX_KRB_HMAC_LEN);
    negoex_krb_key_clear(&k);
    OPENSSL_cleanse(full, sizeof full);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Checksums (types 15 / 16)                                                  */
/* ------------------------------------------------------------------------ */

int32_t negoex_krb_enctype_cksumtype(int32_t enctype)
{
    const aes_profile *p = profile_for(enctype);
    return p != NULL ? p->cksumtype : NEGOEX_ERR_KRB_ENCTYPE;
}

int32_t negoex_krb_cksumtype(const negoex_krb_key *key)
{
    const aes_profile *p = key_profile(key);
    return p != NULL ? p->cksumtype : key_error(key);
}

int negoex_krb_checksum(const negoex_krb_key *key, int32_t usage, const negoex_krb_chunk *chunks, size_t n,
                        uint8_t out[NEGOEX_KRB_HMAC_LEN])
{
    if (out == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    int rc;
    if (key_profile(key) == NULL)
        rc = key_error(key);
    else if (!chunks_valid(chunks, n))
        rc = NEGOEX_ERR_INVALID_ARGUMENT;
    else
        rc = hmac96(key, usage, NEGOEX_KRB_DK_CHECKSUM, chunks, n, out);
    if (rc != 0)
        OPENSSL_cleanse(out, NEGOEX_KRB_HMAC_LEN);
    return rc;
}

int negoex_krb_checksum_verify(const negoex_krb_key *key, int32_t usage, const negoex_krb_chunk *chunks, size_t n,
                               const uint8_t *cksum, size_t cksum_len)
{
    if (cksum == NULL && cksum_len != 0)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    uint8_t expect[NEGOEX_KRB_HMAC_LEN];
    int rc = negoex_krb_checksum(key, usage, chunks, n, expect);
    if (rc == 0 &&
        (cksum_len != NEGOEX_KRB_HMAC_LEN || CRYPTO_memcmp(expect, cksum, NEGOEX_KRB_HMAC_LEN) != 0))
        rc = NEGOEX_ERR_CHECKSUM_MISMATCH;
    OPENSSL_cleanse(expect, sizeof expect);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Encryption (RFC 3961 5.3 simplified profile)                               */
/* ------------------------------------------------------------------------ */

size_t negoex_krb_encrypt_length(int32_t enctype, size_t plain_len)
{
    if (profile_for(enctype) == NULL || plain_len > (size_t)INT_MAX - NEGOEX_KRB_ENC_OVERHEAD)
        return 0;
    return plain_len + NEGOEX_KRB_ENC_OVERHEAD;
}

int negoex_krb_decrypt_length(int32_t enctype, size_t cipher_len, size_t *plain_len)
{
    if (plain_len == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *plain_len = 0;
    if (profile_for(enctype) == NULL)
        return NEGOEX_ERR_KRB_ENCTYPE;
    if (cipher_len < NEGOEX_KRB_ENC_OVERHEAD)
        return NEGOEX_ERR_KRB_MALFORMED;
    *plain_len = cipher_len - NEGOEX_KRB_ENC_OVERHEAD;
    return 0;
}

/* Shared by both encrypt entry points; confounder NULL = fresh random. */
static int encrypt_impl(const negoex_krb_key *key, int32_t usage, const uint8_t *confounder, const uint8_t *plain,
                        size_t plain_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    if (out_len == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *out_len = 0;
    const aes_profile *p = key_profile(key);
    if (p == NULL)
        return key_error(key);
    if (out == NULL || (plain == NULL && plain_len != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    size_t need = negoex_krb_encrypt_length(p->enctype, plain_len);
    if (need == 0)
        return NEGOEX_ERR_TOO_LARGE;
    if (out_cap < need) {
        *out_len = need;
        return NEGOEX_ERR_BUFFER_TOO_SMALL;
    }

    /* out = [confounder || plain] [HMAC]; the first part is then encrypted
     * in place (EVP allows in == out). memmove: plain may overlap out. */
    size_t body = NEGOEX_KRB_CONFOUNDER_LEN + plain_len;
    if (plain_len != 0)
        memmove(out + NEGOEX_KRB_CONFOUNDER_LEN, plain, plain_len);
    int rc = 0;
    if (confounder != NULL)
        memcpy(out, confounder, NEGOEX_KRB_CONFOUNDER_LEN);
    else if (RAND_bytes(out, NEGOEX_KRB_CONFOUNDER_LEN) != 1)
        rc = NEGOEX_ERR_RNG;

    negoex_krb_key ke;
    memset(&ke, 0, sizeof ke);
    if (rc == 0) {
        const negoex_krb_chunk all = {out, body};
        rc = hmac96(key, usage, NEGOEX_KRB_DK_INTEGRITY, &all, 1, out + body);
    }
    if (rc == 0)
        rc = negoex_krb_usage_key(key, usage, NEGOEX_KRB_DK_ENCRYPT, &ke);
    if (rc == 0)
        rc = negoex_krb_aes_cts(1, ke.bytes, ke.len, NULL, out, body, out, NULL);
    negoex_krb_key_clear(&ke);
    if (rc != 0) {
        /* never leave plaintext behind in the output */
        OPENSSL_cleanse(out, need);
        return rc;
    }
    *out_len = need;
    return 0;
}

int negoex_krb_encrypt(const negoex_krb_key *key, int32_t usage, const uint8_t *plain, size_t plain_len,
                       uint8_t *out, size_t out_cap, size_t *out_len)
{
    return encrypt_impl(key, usage, NULL, plain, plain_len, out, out_cap, out_len);
}

int negoex_krb_encrypt_with_confounder(const negoex_krb_key *key, int32_t usage,
                                       const uint8_t confounder[NEGOEX_KRB_CONFOUNDER_LEN], const uint8_t *plain,
                                       size_t plain_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    if (confounder == NULL) {
        if (out_len != NULL)
            *out_len = 0;
        return NEGOEX_ERR_INVALID_ARGUMENT;
    }
    return encrypt_impl(key, usage, confounder, plain, plain_len, out, out_cap, out_len);
}

int negoex_krb_decrypt_with_confounder(const negoex_krb_key *key, int32_t usage, const uint8_t *in, size_t in_len,
                                       uint8_t *out, size_t out_cap, size_t *out_len,
                                       uint8_t confounder[NEGOEX_KRB_CONFOUNDER_LEN])
{
    if (out_len == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *out_len = 0;
    const aes_profile *p = key_profile(key);
    if (p == NULL)
        return key_error(key);
    if (in == NULL || (out == NULL && out_cap != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    size_t plain_len = 0;
    int rc = negoex_krb_decrypt_length(p->enctype, in_len, &plain_len);
    if (rc != 0)
        return rc;
    if (in_len > INT_MAX)
        return NEGOEX_ERR_TOO_LARGE;
    if (out_cap < plain_len) {
        *out_len = plain_len;
        return NEGOEX_ERR_BUFFER_TOO_SMALL;
    }

    /* confounder || plaintext in a scratch buffer, released wiped; out only
     * sees plaintext that passed the integrity check. */
    size_t body = in_len - NEGOEX_KRB_HMAC_LEN;
    uint8_t *work = OPENSSL_malloc(body);
    if (work == NULL)
        return NEGOEX_ERR_NO_MEMORY;
    negoex_krb_key ke;
    memset(&ke, 0, sizeof ke);
    rc = negoex_krb_usage_key(key, usage, NEGOEX_KRB_DK_ENCRYPT, &ke);
    if (rc == 0)
        rc = negoex_krb_aes_cts(0, ke.bytes, ke.len, NULL, in, body, work, NULL);
    negoex_krb_key_clear(&ke);
    if (rc == 0) {
        uint8_t mac[NEGOEX_KRB_HMAC_LEN];
        const negoex_krb_chunk all = {work, body};
        rc = hmac96(key, usage, NEGOEX_KRB_DK_INTEGRITY, &all, 1, mac);
        if (rc == 0 && CRYPTO_memcmp(mac, in + body, NEGOEX_KRB_HMAC_LEN) != 0)
            rc = NEGOEX_ERR_KRB_INTEGRITY;
        OPENSSL_cleanse(mac, sizeof mac);
    }
    if (rc == 0) {
        if (plain_len != 0)
            memcpy(out, work + NEGOEX_KRB_CONFOUNDER_LEN, plain_len);
        if (confounder != NULL)
            memcpy(confounder, work, NEGOEX_KRB_CONFOUNDER_LEN);
        *out_len = plain_len;
    }
    OPENSSL_clear_free(work, body);
    return rc;
}

int negoex_krb_decrypt(const negoex_krb_key *key, int32_t usage, const uint8_t *in, size_t in_len, uint8_t *out,
                       size_t out_cap, size_t *out_len)
{
    return negoex_krb_decrypt_with_confounder(key, usage, in, in_len, out, out_cap, out_len, NULL);
}
