/*
 * RFC 4121 authenticator checksum, KRB-FINISHED, MIC and Wrap tokens (see
 * gss_tokens.h). Crypto through krb_crypto.c (OpenSSL 3).
 */
#include "pku2u/gss_tokens.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "checksum.h"

#define AP_CKSUM_FIXED 24u /* Lgth + Bnd + Flags */
#define DLG_FIXED 4u       /* DlgOpt + Dlgth */
#define EXT_FIXED 8u       /* type + length */
#define MIC_FILLER 0xffu
#define MAX_TOKEN ((size_t)1 << 30) /* far above any GSS message; keeps length sums far from SIZE_MAX */

static uint32_t rd_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint16_t rd_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint64_t rd_be64(const uint8_t *p)
{
    return (uint64_t)rd_be32(p) << 32 | rd_be32(p + 4);
}

static void wr_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void wr_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void wr_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void wr_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void wr_be64(uint8_t *p, uint64_t v)
{
    wr_be32(p, (uint32_t)(v >> 32));
    wr_be32(p + 4, (uint32_t)v);
}

/* ------------------------------------------------------------------------ */
/* 0x8003 checksum                                                            */
/* ------------------------------------------------------------------------ */

int negoex_gss_ap_cksum_length(const negoex_gss_ap_cksum *c, size_t *len)
{
    if (len == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *len = 0;
    if (c == NULL || c->n_exts > NEGOEX_GSS_MAX_EXTS)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    size_t n = AP_CKSUM_FIXED;
    if (c->flags & NEGOEX_GSS_C_DELEG_FLAG) {
        if (c->deleg == NULL && c->deleg_len != 0)
            return NEGOEX_ERR_INVALID_ARGUMENT;
        if (c->deleg_len > 0xffff)
            return NEGOEX_ERR_TOO_LARGE;
        n += DLG_FIXED + c->deleg_len;
    } else if (c->deleg_len != 0) {
        return NEGOEX_ERR_INVALID_ARGUMENT; /* Deleg only travels with the flag */
    }
    for (size_t i = 0; i < c->n_exts; i++) {
        const negoex_gss_ext *e = &c->exts[i];
        if (e->data == NULL && e->len != 0)
            return NEGOEX_ERR_INVALID_ARGUMENT;
        if (e->len > MAX_TOKEN)
            return NEGOEX_ERR_TOO_LARGE;
        n += EXT_FIXED + e->len;
    }
    *len = n;
    return 0;
}

int negoex_gss_ap_cksum_build(const negoex_gss_ap_cksum *c, uint8_t *out, size_t out_cap, size_t *out_len)
{
    size_t need = 0;
    int rc = negoex_gss_ap_cksum_length(c, &need);
    if (out_len == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *out_len = 0;
    if (rc != 0)
        return rc;
    if (out_cap < need || out == NULL) {
        *out_len = need;
        return NEGOEX_ERR_BUFFER_TOO_SMALL;
    }
    uint8_t *p = out;
    wr_le32(p, NEGOEX_GSS_BND_LEN);
    memcpy(p + 4, c->bnd, NEGOEX_GSS_BND_LEN);
    wr_le32(p + 20, c->flags);
    p += AP_CKSUM_FIXED;
    if (c->flags & NEGOEX_GSS_C_DELEG_FLAG) {
        wr_le16(p, c->dlg_opt);
        wr_le16(p + 2, (uint16_t)c->deleg_len);
        if (c->deleg_len != 0)
            memcpy(p + DLG_FIXED, c->deleg, c->deleg_len);
        p += DLG_FIXED + c->deleg_len;
    }
    for (size_t i = 0; i < c->n_exts; i++) {
        const negoex_gss_ext *e = &c->exts[i];
        wr_be32(p, e->type);
        wr_be32(p + 4, (uint32_t)e->len);
        if (e->len != 0)
            memcpy(p + EXT_FIXED, e->data, e->len);
        p += EXT_FIXED + e->len;
    }
    *out_len = need;
    return 0;
}

int negoex_gss_ap_cksum_parse(const uint8_t *in, size_t len, negoex_gss_ap_cksum *c)
{
    if (c == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    memset(c, 0, sizeof *c);
    if (in == NULL && len != 0)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (len < AP_CKSUM_FIXED || rd_le32(in) != NEGOEX_GSS_BND_LEN)
        return NEGOEX_ERR_KRB_MALFORMED;
    memcpy(c->bnd, in + 4, NEGOEX_GSS_BND_LEN);
    c->flags = rd_le32(in + 20);
    size_t pos = AP_CKSUM_FIXED;
    int rc = 0;
    if (c->flags & NEGOEX_GSS_C_DELEG_FLAG) {
        if (len - pos < DLG_FIXED)
            rc = NEGOEX_ERR_KRB_MALFORMED;
        else {
            c->dlg_opt = rd_le16(in + pos);
            c->deleg_len = rd_le16(in + pos + 2);
            if (c->dlg_opt != NEGOEX_GSS_DLGOPT_KRB_CRED || c->deleg_len > len - pos - DLG_FIXED)
                rc = NEGOEX_ERR_KRB_MALFORMED;
            else {
                c->deleg = in + pos + DLG_FIXED;
                pos += DLG_FIXED + c->deleg_len;
            }
        }
    }
    while (rc == 0 && pos < len) {
        if (len - pos < EXT_FIXED || c->n_exts == NEGOEX_GSS_MAX_EXTS) {
            rc = NEGOEX_ERR_KRB_MALFORMED;
            break;
        }
        uint32_t type = rd_be32(in + pos);
        size_t elen = rd_be32(in + pos + 4);
        if (elen > len - pos - EXT_FIXED || negoex_gss_ap_cksum_find(c, type) != NULL) {
            rc = NEGOEX_ERR_KRB_MALFORMED;
            break;
        }
        negoex_gss_ext *e = &c->exts[c->n_exts++];
        e->type = type;
        e->data = in + pos + EXT_FIXED;
        e->len = elen;
        pos += EXT_FIXED + elen;
    }
    if (rc != 0)
        memset(c, 0, sizeof *c);
    return rc;
}

const negoex_gss_ext *negoex_gss_ap_cksum_find(const negoex_gss_ap_cksum *c, uint32_t type)
{
    if (c == NULL)
        return NULL;
    for (size_t i = 0; i < c->n_exts && i < NEGOEX_GSS_MAX_EXTS; i++)
        if (c->exts[i].type == type)
            return &c->exts[i];
    return NULL;
}

int negoex_gss_channel_bindings_hash(const negoex_gss_channel_bindings *cb, uint8_t out[NEGOEX_GSS_BND_LEN])
{
    if (out == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    memset(out, 0, NEGOEX_GSS_BND_LEN);
    if (cb == NULL)
        return 0;
    if ((cb->initiator_address == NULL && cb->initiator_address_len != 0) ||
        (cb->acceptor_address == NULL && cb->acceptor_address_len != 0) ||
        (cb->application_data == NULL && cb->application_data_len != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (cb->initiator_address_len > UINT32_MAX || cb->acceptor_address_len > UINT32_MAX ||
        cb->application_data_len > UINT32_MAX)
        return NEGOEX_ERR_TOO_LARGE;

    uint8_t ia[8], aa[8], ad[4];
    wr_le32(ia, cb->initiator_addrtype);
    wr_le32(ia + 4, (uint32_t)cb->initiator_address_len);
    wr_le32(aa, cb->acceptor_addrtype);
    wr_le32(aa + 4, (uint32_t)cb->acceptor_address_len);
    wr_le32(ad, (uint32_t)cb->application_data_len);
    const struct {
        const uint8_t *p;
        size_t n;
    } parts[] = {
        {ia, sizeof ia}, {cb->initiator_address, cb->initiator_address_len},
        {aa, sizeof aa}, {cb->acceptor_address, cb->acceptor_address_len},
        {ad, sizeof ad}, {cb->application_data, cb->application_data_len},
    };
    int rc = NEGOEX_ERR_CRYPTO;
    unsigned int n = 0;
    EVP_MD *md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    EVP_MD_CTX *md = md5 != NULL ? EVP_MD_CTX_new() : NULL;
    if (md != NULL && EVP_DigestInit_ex2(md, md5, NULL) == 1) {
        int ok = 1;
        for (size_t i = 0; ok && i < sizeof parts / sizeof parts[0]; i++)
            if (parts[i].n != 0)
                ok = EVP_DigestUpdate(md, parts[i].p, parts[i].n) == 1;
        if (ok && EVP_DigestFinal_ex(md, out, &n) == 1 && n == NEGOEX_GSS_BND_LEN)
            rc = 0;
    }
    EVP_MD_CTX_free(md);
    EVP_MD_free(md5);
    if (rc != 0)
        memset(out, 0, NEGOEX_GSS_BND_LEN);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* KRB-FINISHED                                                               */
/* ------------------------------------------------------------------------ */

int negoex_gss_krb_finished_mic(const negoex_krb_key *subkey, const negoex_krb_chunk *tokens, size_t n,
                                int32_t *cksumtype, uint8_t out[NEGOEX_KRB_HMAC_LEN])
{
    if (cksumtype == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *cksumtype = 0;
    int rc = negoex_krb_checksum(subkey, NEGOEX_KRB_KU_FINISHED, tokens, n, out);
    if (rc == 0)
        *cksumtype = negoex_krb_cksumtype(subkey);
    return rc;
}

int negoex_gss_krb_finished_verify(const negoex_krb_key *subkey, const negoex_krb_chunk *tokens, size_t n,
                                   int32_t cksumtype, const uint8_t *cksum, size_t cksum_len)
{
    int keyed = negoex_cksumtype_is_keyed(cksumtype);
    if (keyed == 0)
        return NEGOEX_ERR_UNKEYED_CHECKSUM;
    int32_t own = negoex_krb_cksumtype(subkey);
    if (own < 0)
        return own;
    if (cksumtype != own)
        return NEGOEX_ERR_UNSUPPORTED_CHECKSUM;
    return negoex_krb_checksum_verify(subkey, NEGOEX_KRB_KU_FINISHED, tokens, n, cksum, cksum_len);
}

/* ------------------------------------------------------------------------ */
/* MIC and Wrap                                                               */
/* ------------------------------------------------------------------------ */

static int32_t usage_for(int sent_by_acceptor, int wrap)
{
    if (wrap)
        return sent_by_acceptor ? NEGOEX_GSS_KU_ACCEPTOR_SEAL : NEGOEX_GSS_KU_INITIATOR_SEAL;
    return sent_by_acceptor ? NEGOEX_GSS_KU_ACCEPTOR_SIGN : NEGOEX_GSS_KU_INITIATOR_SIGN;
}

static uint8_t flags_for(const negoex_gss_token_params *tp, int sealed)
{
    return (uint8_t)((tp->sent_by_acceptor ? NEGOEX_GSS_FLAG_SENT_BY_ACCEPTOR : 0) |
                     (sealed ? NEGOEX_GSS_FLAG_SEALED : 0) |
                     (tp->acceptor_subkey ? NEGOEX_GSS_FLAG_ACCEPTOR_SUBKEY : 0));
}

static void header(uint8_t h[NEGOEX_GSS_TOKEN_HEADER_LEN], uint16_t tok_id, uint8_t flags, uint16_t ec, uint16_t rrc,
                   uint64_t seq)
{
    wr_be16(h, tok_id);
    h[2] = flags;
    h[3] = MIC_FILLER;
    wr_be16(h + 4, ec);
    wr_be16(h + 6, rrc);
    wr_be64(h + 8, seq);
}

static void reverse(uint8_t *p, size_t n)
{
    for (size_t i = 0, j = n; i + 1 < j; i++, j--) {
        uint8_t t = p[i];
        p[i] = p[j - 1];
        p[j - 1] = t;
    }
}

/* In-place left rotation by r (mod n), by three reversals. */
static void rotate_left(uint8_t *p, size_t n, size_t r)
{
    if (n == 0)
        return;
    r %= n;
    if (r == 0)
        return;
    reverse(p, r);
    reverse(p + r, n - r);
    reverse(p, n);
}

static void fill_info(negoex_gss_token_params *info, const uint8_t *tok, int wrap)
{
    if (info == NULL)
        return;
    memset(info, 0, sizeof *info);
    info->flags = tok[2];
    info->sent_by_acceptor = (tok[2] & NEGOEX_GSS_FLAG_SENT_BY_ACCEPTOR) != 0;
    info->acceptor_subkey = (tok[2] & NEGOEX_GSS_FLAG_ACCEPTOR_SUBKEY) != 0;
    info->seq = rd_be64(tok + 8);
    if (wrap) {
        info->sealed = (tok[2] & NEGOEX_GSS_FLAG_SEALED) != 0;
        info->ec = rd_be16(tok + 4);
        info->rrc = rd_be16(tok + 6);
    }
}

/* The checks every received token gets before any crypto. */
static int check_header(const uint8_t *tok, size_t tok_len, uint16_t tok_id, int from_acceptor)
{
    if (tok == NULL || tok_len < NEGOEX_GSS_TOKEN_HEADER_LEN || tok_len > MAX_TOKEN)
        return NEGOEX_ERR_KRB_MALFORMED;
    if (rd_be16(tok) != tok_id || tok[3] != MIC_FILLER)
        return NEGOEX_ERR_KRB_MALFORMED;
    if (tok_id == NEGOEX_GSS_TOK_MIC)
        for (size_t i = 4; i < 8; i++)
            if (tok[i] != MIC_FILLER)
                return NEGOEX_ERR_KRB_MALFORMED;
    if (((tok[2] & NEGOEX_GSS_FLAG_SENT_BY_ACCEPTOR) != 0) != (from_acceptor != 0))
        return NEGOEX_ERR_KRB_DIRECTION;
    return 0;
}

size_t negoex_gss_mic_length(const negoex_krb_key *key)
{
    return negoex_krb_cksumtype(key) > 0 ? NEGOEX_GSS_TOKEN_HEADER_LEN + NEGOEX_KRB_HMAC_LEN : 0;
}

int negoex_gss_mic_make(const negoex_krb_key *key, const negoex_gss_token_params *tp, const uint8_t *msg,
                        size_t msg_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    if (out_len == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *out_len = 0;
    if (tp == NULL || (msg == NULL && msg_len != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    int32_t type = negoex_krb_cksumtype(key);
    if (type < 0)
        return type;
    size_t need = NEGOEX_GSS_TOKEN_HEADER_LEN + NEGOEX_KRB_HMAC_LEN;
    if (out == NULL || out_cap < need) {
        *out_len = need;
        return NEGOEX_ERR_BUFFER_TOO_SMALL;
    }
    uint8_t h[NEGOEX_GSS_TOKEN_HEADER_LEN];
    header(h, NEGOEX_GSS_TOK_MIC, flags_for(tp, 0), 0xffff, 0xffff, tp->seq);
    const negoex_krb_chunk chunks[] = {{msg, msg_len}, {h, sizeof h}};
    int rc = negoex_krb_checksum(key, usage_for(tp->sent_by_acceptor, 0), chunks, 2, out + NEGOEX_GSS_TOKEN_HEADER_LEN);
    if (rc != 0)
        return rc;
    memcpy(out, h, sizeof h);
    *out_len = need;
    return 0;
}

int negoex_gss_mic_verify(const negoex_krb_key *key, int from_acceptor, const uint8_t *msg, size_t msg_len,
                          const uint8_t *tok, size_t tok_len, negoex_gss_token_params *info)
{
    if (info != NULL)
        memset(info, 0, sizeof *info);
    if (msg == NULL && msg_len != 0)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    int32_t type = negoex_krb_cksumtype(key);
    if (type < 0)
        return type;
    int rc = check_header(tok, tok_len, NEGOEX_GSS_TOK_MIC, from_acceptor);
    if (rc != 0)
        return rc;
    /* A checksum of another length cannot match: reported as a mismatch,
     * as for a wrong value. */
    const negoex_krb_chunk chunks[] = {{msg, msg_len}, {tok, NEGOEX_GSS_TOKEN_HEADER_LEN}};
    rc = negoex_krb_checksum_verify(key, usage_for(from_acceptor, 0), chunks, 2, tok + NEGOEX_GSS_TOKEN_HEADER_LEN,
                                    tok_len - NEGOEX_GSS_TOKEN_HEADER_LEN);
    if (rc == 0)
        fill_info(info, tok, 0);
    return rc;
}

size_t negoex_gss_wrap_length(const negoex_krb_key *key, const negoex_gss_token_params *tp, size_t msg_len)
{
    if (tp == NULL || negoex_krb_cksumtype(key) < 0 || msg_len > MAX_TOKEN)
        return 0;
    if (tp->sealed) {
        size_t n = negoex_krb_encrypt_length(key->enctype, msg_len + tp->ec + NEGOEX_GSS_TOKEN_HEADER_LEN);
        return n != 0 ? NEGOEX_GSS_TOKEN_HEADER_LEN + n : 0;
    }
    return NEGOEX_GSS_TOKEN_HEADER_LEN + msg_len + NEGOEX_KRB_HMAC_LEN;
}

int negoex_gss_wrap(const negoex_krb_key *key, const negoex_gss_token_params *tp, const uint8_t *msg,
                    size_t msg_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    if (out_len == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *out_len = 0;
    if (tp == NULL || (msg == NULL && msg_len != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    int32_t type = negoex_krb_cksumtype(key);
    if (type < 0)
        return type;
    size_t need = negoex_gss_wrap_length(key, tp, msg_len);
    if (need == 0)
        return NEGOEX_ERR_TOO_LARGE;
    if (out == NULL || out_cap < need) {
        *out_len = need;
        return NEGOEX_ERR_BUFFER_TOO_SMALL;
    }
    /* msg must not overlap out: out is written before msg is fully read */
    uintptr_t m = (uintptr_t)msg, o = (uintptr_t)out;
    if (msg_len != 0 && m < o + need && o < m + msg_len)
        return NEGOEX_ERR_INVALID_ARGUMENT;

    uint8_t *body = out + NEGOEX_GSS_TOKEN_HEADER_LEN;
    size_t body_len = need - NEGOEX_GSS_TOKEN_HEADER_LEN;
    int32_t usage = usage_for(tp->sent_by_acceptor, 1);
    int rc;
    if (tp->sealed) {
        /* plaintext = msg | filler | header copy (EC as sent, RRC 0), laid
         * out where encryption puts it (after the confounder), then
         * encrypted in place. */
        uint8_t *pt = body + NEGOEX_KRB_CONFOUNDER_LEN;
        size_t pt_len = msg_len + tp->ec + NEGOEX_GSS_TOKEN_HEADER_LEN;
        if (msg_len != 0)
            memcpy(pt, msg, msg_len);
        memset(pt + msg_len, 0, tp->ec);
        header(pt + msg_len + tp->ec, NEGOEX_GSS_TOK_WRAP, flags_for(tp, 1), tp->ec, 0, tp->seq);
        size_t n = 0;
        rc = negoex_krb_encrypt(key, usage, pt, pt_len, body, body_len, &n);
        if (rc == 0 && n != body_len)
            rc = NEGOEX_ERR_CRYPTO;
        header(out, NEGOEX_GSS_TOK_WRAP, flags_for(tp, 1), tp->ec, tp->rrc, tp->seq);
    } else {
        /* checksum over msg | header with EC 0 and RRC 0 */
        uint8_t h0[NEGOEX_GSS_TOKEN_HEADER_LEN];
        header(h0, NEGOEX_GSS_TOK_WRAP, flags_for(tp, 0), 0, 0, tp->seq);
        const negoex_krb_chunk chunks[] = {{msg, msg_len}, {h0, sizeof h0}};
        if (msg_len != 0)
            memcpy(body, msg, msg_len);
        rc = negoex_krb_checksum(key, usage, chunks, 2, body + msg_len);
        header(out, NEGOEX_GSS_TOK_WRAP, flags_for(tp, 0), NEGOEX_KRB_HMAC_LEN, tp->rrc, tp->seq);
    }
    if (rc != 0) {
        OPENSSL_cleanse(out, need);
        return rc;
    }
    /* rotate right by RRC = rotate left by len - RRC mod len */
    rotate_left(body, body_len, body_len - tp->rrc % body_len);
    *out_len = need;
    return 0;
}

/* Message length a well-formed Wrap header announces. */
static int unwrap_length(const negoex_krb_key *key, const uint8_t *tok, size_t tok_len, size_t *msg_len)
{
    size_t body = tok_len - NEGOEX_GSS_TOKEN_HEADER_LEN;
    size_t ec = rd_be16(tok + 4);
    if (tok[2] & NEGOEX_GSS_FLAG_SEALED) {
        size_t pt = 0;
        int rc = negoex_krb_decrypt_length(key->enctype, body, &pt);
        if (rc != 0)
            return rc;
        if (pt < ec + NEGOEX_GSS_TOKEN_HEADER_LEN)
            return NEGOEX_ERR_KRB_MALFORMED;
        *msg_len = pt - ec - NEGOEX_GSS_TOKEN_HEADER_LEN;
    } else {
        if (ec != NEGOEX_KRB_HMAC_LEN || body < ec)
            return NEGOEX_ERR_KRB_MALFORMED;
        *msg_len = body - ec;
    }
    return 0;
}

int negoex_gss_unwrap_length(const negoex_krb_key *key, const uint8_t *tok, size_t tok_len, size_t *msg_len)
{
    if (msg_len == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *msg_len = 0;
    int32_t type = negoex_krb_cksumtype(key);
    if (type < 0)
        return type;
    if (tok == NULL || tok_len < NEGOEX_GSS_TOKEN_HEADER_LEN || tok_len > MAX_TOKEN ||
        rd_be16(tok) != NEGOEX_GSS_TOK_WRAP || tok[3] != MIC_FILLER)
        return NEGOEX_ERR_KRB_MALFORMED;
    return unwrap_length(key, tok, tok_len, msg_len);
}

int negoex_gss_unwrap(const negoex_krb_key *key, int from_acceptor, const uint8_t *tok, size_t tok_len,
                      uint8_t *out, size_t out_cap, size_t *out_len, negoex_gss_token_params *info)
{
    if (info != NULL)
        memset(info, 0, sizeof *info);
    if (out_len == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *out_len = 0;
    if (out == NULL && out_cap != 0)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    int32_t type = negoex_krb_cksumtype(key);
    if (type < 0)
        return type;
    int rc = check_header(tok, tok_len, NEGOEX_GSS_TOK_WRAP, from_acceptor);
    if (rc != 0)
        return rc;
    size_t msg_len = 0;
    rc = unwrap_length(key, tok, tok_len, &msg_len);
    if (rc != 0)
        return rc;
    if (out_cap < msg_len) {
        *out_len = msg_len;
        return NEGOEX_ERR_BUFFER_TOO_SMALL;
    }

    /* The body with the rotation undone, in scratch memory released wiped. */
    size_t body_len = tok_len - NEGOEX_GSS_TOKEN_HEADER_LEN;
    uint8_t *body = OPENSSL_malloc(body_len);
    if (body == NULL)
        return NEGOEX_ERR_NO_MEMORY;
    memcpy(body, tok + NEGOEX_GSS_TOKEN_HEADER_LEN, body_len);
    rotate_left(body, body_len, rd_be16(tok + 6));

    int32_t usage = usage_for(from_acceptor, 1);
    if (tok[2] & NEGOEX_GSS_FLAG_SEALED) {
        size_t pt_len = 0;
        rc = negoex_krb_decrypt(key, usage, body, body_len, body, body_len, &pt_len);
        if (rc == 0) {
            /* The encrypted copy is the outer header with RRC 0: this is
             * what authenticates EC, the flags and SND_SEQ. */
            uint8_t expect[NEGOEX_GSS_TOKEN_HEADER_LEN];
            memcpy(expect, tok, sizeof expect);
            wr_be16(expect + 6, 0);
            if (pt_len != msg_len + rd_be16(tok + 4) + NEGOEX_GSS_TOKEN_HEADER_LEN ||
                CRYPTO_memcmp(body + pt_len - NEGOEX_GSS_TOKEN_HEADER_LEN, expect, sizeof expect) != 0)
                rc = NEGOEX_ERR_KRB_MALFORMED;
        }
    } else {
        uint8_t h0[NEGOEX_GSS_TOKEN_HEADER_LEN];
        memcpy(h0, tok, sizeof h0);
        wr_be16(h0 + 4, 0);
        wr_be16(h0 + 6, 0);
        const negoex_krb_chunk chunks[] = {{body, msg_len}, {h0, sizeof h0}};
        rc = negoex_krb_checksum_verify(key, usage, chunks, 2, body + msg_len, NEGOEX_KRB_HMAC_LEN);
    }
    if (rc == 0) {
        if (msg_len != 0)
            memcpy(out, body, msg_len);
        *out_len = msg_len;
        fill_info(info, tok, 1);
    }
    OPENSSL_clear_free(body, body_len);
    return rc;
}
