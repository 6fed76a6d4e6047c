/*
 * ntlmtoy: an NTLM-shaped three-leg test mechanism for the SPNEGO context
 * (include/negoex/spnego_mech_ntlmtoy.h has the wire format and the keys).
 */
#include <negoex/spnego_mech_ntlmtoy.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>

#include "alloc.h"

#define MAGIC_LEN 7u
#define HDR_LEN (MAGIC_LEN + 1u)
#define NONCE NEGOEX_NTLMTOY_NONCE_LEN
#define PROOF_LEN 32u
#define KEY_LEN 32u
#define STATE_MAGIC 0x4e544c54u /* "NTLT" */

static const uint8_t MAGIC[MAGIC_LEN] = {'N', 'T', 'L', 'M', 'T', 'O', 'Y'};
enum { T_NEGOTIATE = 1, T_CHALLENGE = 2, T_AUTHENTICATE = 3 };
enum { S_START, S_WAIT_CHALLENGE, S_WAIT_AUTH, S_DONE, S_FAILED };

typedef struct ntlmtoy_state {
    uint32_t magic;
    negoex_role role;
    int phase;
    negoex_allocator alloc_copy;
    const negoex_allocator *alloc;
    negoex_rng_fn rng;
    void *rng_ud;
    uint8_t secret[NEGOEX_NTLMTOY_SECRET_MAX];
    size_t secret_len;
    char user[NEGOEX_NTLMTOY_USER_MAX + 1]; /* initiator: ours; acceptor: the peer's once checked */
    size_t user_len;
    char expected[NEGOEX_NTLMTOY_USER_MAX + 1];
    int have_expected;
    int unknown_user_retry;
    uint8_t server_nonce[NONCE];
    uint8_t key_i2a[KEY_LEN], key_a2i[KEY_LEN];
    uint8_t out[HDR_LEN + NONCE + 2 + NEGOEX_NTLMTOY_USER_MAX + PROOF_LEN];
    size_t out_len;
} ntlmtoy_state;

void negoex_ntlmtoy_config_init(negoex_ntlmtoy_config *cfg)
{
    if (cfg != NULL)
        memset(cfg, 0, sizeof *cfg);
}

/* HMAC-SHA-256 over the concatenation of up to four parts. */
static int hmac4(const uint8_t *key, size_t key_len, const void *p1, size_t l1, const void *p2, size_t l2,
                 const void *p3, size_t l3, const void *p4, size_t l4, uint8_t out[32])
{
    uint8_t buf[64 + 2 * NONCE + 2 + NEGOEX_NTLMTOY_USER_MAX];
    size_t n = 0;
    const void *parts[4] = {p1, p2, p3, p4};
    const size_t lens[4] = {l1, l2, l3, l4};
    for (int i = 0; i < 4; i++) {
        if (lens[i] > sizeof buf - n)
            return NEGOEX_ERR_INVALID_ARGUMENT;
        if (lens[i] != 0)
            memcpy(buf + n, parts[i], lens[i]);
        n += lens[i];
    }
    unsigned int olen = 0;
    const uint8_t *r = HMAC(EVP_sha256(), key, (int)key_len, buf, n, out, &olen);
    OPENSSL_cleanse(buf, sizeof buf);
    return r != NULL && olen == 32 ? NEGOEX_OK : NEGOEX_ERR_CRYPTO;
}

/* The per-direction keys from the two nonces and the user. */
static int derive_keys(ntlmtoy_state *s, const uint8_t *client_nonce)
{
    static const char label[] = "ntlmtoy session";
    uint8_t nonces[2 * NONCE], base[KEY_LEN];
    memcpy(nonces, s->server_nonce, NONCE);
    memcpy(nonces + NONCE, client_nonce, NONCE);
    int rc = hmac4(s->secret, s->secret_len, label, sizeof label - 1, nonces, sizeof nonces, s->user, s->user_len,
                   NULL, 0, base);
    if (rc == NEGOEX_OK)
        rc = hmac4(base, sizeof base, "ntlmtoy i2a", 11, NULL, 0, NULL, 0, NULL, 0, s->key_i2a);
    if (rc == NEGOEX_OK)
        rc = hmac4(base, sizeof base, "ntlmtoy a2i", 11, NULL, 0, NULL, 0, NULL, 0, s->key_a2i);
    OPENSSL_cleanse(base, sizeof base);
    return rc;
}

static int proof_of(const ntlmtoy_state *s, const uint8_t *client_nonce, const uint8_t *user_field,
                    size_t user_field_len, uint8_t out[PROOF_LEN])
{
    static const char label[] = "ntlmtoy proof";
    uint8_t nonces[2 * NONCE];
    memcpy(nonces, s->server_nonce, NONCE);
    memcpy(nonces + NONCE, client_nonce, NONCE);
    return hmac4(s->secret, s->secret_len, label, sizeof label - 1, nonces, sizeof nonces, user_field,
                 user_field_len, NULL, 0, out);
}

static int random_bytes(const ntlmtoy_state *s, uint8_t *out, size_t len)
{
    if (s->rng != NULL)
        return s->rng(s->rng_ud, out, len) == 0 ? NEGOEX_OK : NEGOEX_ERR_RNG;
    return RAND_bytes(out, (int)len) == 1 ? NEGOEX_OK : NEGOEX_ERR_RNG;
}

static int tt_create(void *user_data, negoex_role role, void **state)
{
    const negoex_ntlmtoy_config *cfg = user_data;
    if (state == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *state = NULL;
    if (cfg == NULL || cfg->secret == NULL || cfg->secret_len == 0 || cfg->secret_len > NEGOEX_NTLMTOY_SECRET_MAX ||
        (role != NEGOEX_ROLE_INITIATOR && role != NEGOEX_ROLE_ACCEPTOR))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    size_t ulen = cfg->user != NULL ? strlen(cfg->user) : 0;
    size_t elen = cfg->expected_user != NULL ? strlen(cfg->expected_user) : 0;
    if ((role == NEGOEX_ROLE_INITIATOR && (ulen == 0 || ulen > NEGOEX_NTLMTOY_USER_MAX)) ||
        elen > NEGOEX_NTLMTOY_USER_MAX)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    ntlmtoy_state *s = negoex_mem_alloc(cfg->allocator, sizeof *s);
    if (s == NULL)
        return NEGOEX_ERR_NO_MEMORY;
    memset(s, 0, sizeof *s);
    s->magic = STATE_MAGIC;
    s->role = role;
    s->phase = S_START;
    if (cfg->allocator != NULL) {
        s->alloc_copy = *cfg->allocator;
        s->alloc = &s->alloc_copy;
    }
    s->rng = cfg->rng;
    s->rng_ud = cfg->rng_ud;
    memcpy(s->secret, cfg->secret, cfg->secret_len);
    s->secret_len = cfg->secret_len;
    if (role == NEGOEX_ROLE_INITIATOR) {
        memcpy(s->user, cfg->user, ulen);
        s->user_len = ulen;
    }
    if (cfg->expected_user != NULL) {
        memcpy(s->expected, cfg->expected_user, elen);
        s->have_expected = 1;
    }
    s->unknown_user_retry = cfg->unknown_user_retry != 0;
    *state = s;
    return NEGOEX_OK;
}

static void tt_free(void *state)
{
    ntlmtoy_state *s = state;
    if (s == NULL)
        return;
    negoex_allocator a = s->alloc_copy;
    const negoex_allocator *alloc = s->alloc != NULL ? &a : NULL;
    negoex_mem_free_secret(alloc, s, sizeof *s);
}

static int tt_clone(const void *state, void **copy)
{
    const ntlmtoy_state *s = state;
    ntlmtoy_state *c = negoex_mem_alloc(s->alloc, sizeof *c);
    if (c == NULL)
        return NEGOEX_ERR_NO_MEMORY;
    memcpy(c, s, sizeof *c);
    if (s->alloc != NULL)
        c->alloc = &c->alloc_copy;
    *copy = c;
    return NEGOEX_OK;
}

static int header_ok(const uint8_t *in, size_t in_len, int type)
{
    return in_len >= HDR_LEN && memcmp(in, MAGIC, MAGIC_LEN) == 0 && in[MAGIC_LEN] == type;
}

static void put_header(ntlmtoy_state *s, int type)
{
    memcpy(s->out, MAGIC, MAGIC_LEN);
    s->out[MAGIC_LEN] = (uint8_t)type;
    s->out_len = HDR_LEN;
}

static int initiator_step(ntlmtoy_state *s, const uint8_t *in, size_t in_len)
{
    if (s->phase == S_START) {
        if (in_len != 0)
            return NEGOEX_ERR_SPNEGO_MECH_TOKEN; /* client-first: nothing comes before NEGOTIATE */
        put_header(s, T_NEGOTIATE);
        s->phase = S_WAIT_CHALLENGE;
        return NEGOEX_CONTINUE;
    }
    if (s->phase != S_WAIT_CHALLENGE)
        return NEGOEX_ERR_SPNEGO_MECH_TOKEN;
    if (!header_ok(in, in_len, T_CHALLENGE) || in_len != HDR_LEN + NONCE)
        return NEGOEX_ERR_SPNEGO_MECH_TOKEN;
    memcpy(s->server_nonce, in + HDR_LEN, NONCE);
    uint8_t client_nonce[NONCE];
    int rc = random_bytes(s, client_nonce, NONCE);
    if (rc < 0)
        return rc;
    put_header(s, T_AUTHENTICATE);
    uint8_t *p = s->out + HDR_LEN;
    memcpy(p, client_nonce, NONCE);
    p += NONCE;
    uint8_t *user_field = p;
    *p++ = (uint8_t)(s->user_len >> 8);
    *p++ = (uint8_t)s->user_len;
    memcpy(p, s->user, s->user_len);
    p += s->user_len;
    rc = proof_of(s, client_nonce, user_field, 2 + s->user_len, p);
    if (rc == NEGOEX_OK)
        rc = derive_keys(s, client_nonce);
    if (rc < 0)
        return rc;
    p += PROOF_LEN;
    s->out_len = (size_t)(p - s->out);
    s->phase = S_DONE;
    return NEGOEX_COMPLETE;
}

static int acceptor_step(ntlmtoy_state *s, const uint8_t *in, size_t in_len)
{
    if (s->phase == S_START) {
        if (in_len == 0)
            return NEGOEX_CONTINUE; /* client-first: wait for NEGOTIATE */
        if (!header_ok(in, in_len, T_NEGOTIATE) || in_len != HDR_LEN)
            return NEGOEX_ERR_SPNEGO_MECH_TOKEN;
        int rc = random_bytes(s, s->server_nonce, NONCE);
        if (rc < 0)
            return rc;
        put_header(s, T_CHALLENGE);
        memcpy(s->out + HDR_LEN, s->server_nonce, NONCE);
        s->out_len = HDR_LEN + NONCE;
        s->phase = S_WAIT_AUTH;
        return NEGOEX_CONTINUE;
    }
    if (s->phase != S_WAIT_AUTH)
        return NEGOEX_ERR_SPNEGO_MECH_TOKEN;
    if (!header_ok(in, in_len, T_AUTHENTICATE) || in_len < HDR_LEN + NONCE + 2 + PROOF_LEN)
        return NEGOEX_ERR_SPNEGO_MECH_TOKEN;
    const uint8_t *client_nonce = in + HDR_LEN;
    const uint8_t *user_field = client_nonce + NONCE;
    size_t ulen = ((size_t)user_field[0] << 8) | user_field[1];
    if (ulen == 0 || ulen > NEGOEX_NTLMTOY_USER_MAX || in_len != HDR_LEN + NONCE + 2 + ulen + PROOF_LEN ||
        memchr(user_field + 2, '\0', ulen) != NULL)
        return NEGOEX_ERR_SPNEGO_MECH_TOKEN;
    uint8_t want[PROOF_LEN];
    int rc = proof_of(s, client_nonce, user_field, 2 + ulen, want);
    if (rc < 0)
        return rc;
    int match = CRYPTO_memcmp(want, user_field + 2 + ulen, PROOF_LEN) == 0;
    OPENSSL_cleanse(want, sizeof want);
    if (!match) {
        s->phase = S_FAILED;
        return NEGOEX_ERR_SPNEGO_MECH_AUTH;
    }
    if (s->have_expected && (strlen(s->expected) != ulen || memcmp(s->expected, user_field + 2, ulen) != 0)) {
        s->phase = S_FAILED;
        return s->unknown_user_retry ? NEGOEX_ERR_SPNEGO_MECH_RETRY : NEGOEX_ERR_SPNEGO_MECH_AUTH;
    }
    memcpy(s->user, user_field + 2, ulen);
    s->user[ulen] = '\0';
    s->user_len = ulen;
    rc = derive_keys(s, client_nonce);
    if (rc < 0)
        return rc;
    s->out_len = 0;
    s->phase = S_DONE;
    return NEGOEX_COMPLETE;
}

static int tt_step(void *state, const uint8_t *in, size_t in_len, const uint8_t **out, size_t *out_len)
{
    ntlmtoy_state *s = state;
    if (s == NULL || out == NULL || out_len == NULL || (in == NULL && in_len != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *out = NULL;
    *out_len = 0;
    s->out_len = 0;
    if (s->phase == S_FAILED)
        return NEGOEX_ERR_FAILED;
    if (s->phase == S_DONE)
        return NEGOEX_ERR_COMPLETE;
    int rc = s->role == NEGOEX_ROLE_INITIATOR ? initiator_step(s, in, in_len) : acceptor_step(s, in, in_len);
    if (rc >= 0 && s->out_len != 0) {
        *out = s->out;
        *out_len = s->out_len;
    }
    return rc;
}

static int mic_of(const uint8_t key[KEY_LEN], const uint8_t *data, size_t len, uint8_t out[32])
{
    unsigned int olen = 0;
    return HMAC(EVP_sha256(), key, KEY_LEN, data, len, out, &olen) != NULL && olen == 32 ? NEGOEX_OK
                                                                                           : NEGOEX_ERR_CRYPTO;
}

static int tt_get_mic(void *state, const uint8_t *data, size_t len, negoex_buf *mic)
{
    ntlmtoy_state *s = state;
    if (s == NULL || mic == NULL || (data == NULL && len != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (s->phase != S_DONE)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    uint8_t full[32];
    int rc = mic_of(s->role == NEGOEX_ROLE_INITIATOR ? s->key_i2a : s->key_a2i, data, len, full);
    if (rc == NEGOEX_OK)
        rc = negoex_buf_append(mic, full, NEGOEX_NTLMTOY_MIC_LEN);
    OPENSSL_cleanse(full, sizeof full);
    return rc;
}

static int tt_verify_mic(void *state, const uint8_t *data, size_t len, const uint8_t *mic, size_t mic_len)
{
    ntlmtoy_state *s = state;
    if (s == NULL || (data == NULL && len != 0) || (mic == NULL && mic_len != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (s->phase != S_DONE)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    uint8_t full[32];
    int rc = mic_of(s->role == NEGOEX_ROLE_INITIATOR ? s->key_a2i : s->key_i2a, data, len, full);
    if (rc == NEGOEX_OK && (mic_len != NEGOEX_NTLMTOY_MIC_LEN || CRYPTO_memcmp(full, mic, mic_len) != 0))
        rc = NEGOEX_ERR_SPNEGO_MIC_MISMATCH;
    OPENSSL_cleanse(full, sizeof full);
    return rc;
}

static const negoex_spnego_mech_ops NTLMTOY_OPS = {
    .struct_size = sizeof(negoex_spnego_mech_ops),
    .name = "ntlmtoy",
    .create = tt_create,
    .free = tt_free,
    .step = tt_step,
    .get_mic = tt_get_mic,
    .verify_mic = tt_verify_mic,
    .requires_mic = NULL,
    .clone = tt_clone,
};

const negoex_spnego_mech_ops *negoex_ntlmtoy_mech(void)
{
    return &NTLMTOY_OPS;
}

const char *negoex_ntlmtoy_user(const void *state)
{
    const ntlmtoy_state *s = state;
    if (s == NULL || s->magic != STATE_MAGIC || s->phase != S_DONE)
        return NULL;
    return s->user;
}
