/* SPNEGO codec (RFC 4178, MS-SPNG NegTokenInit2): a strict DER reader that
 * fills views into the caller's buffer, and a writer of the same DER. Every
 * rejection reports the rule, the absolute offset and the field
 * (docs/spnego-errors.md). Strict DER has one encoding per value, so a parsed
 * token rebuilt with negoex_spnego_write gives back the same bytes. */
#include <negoex/spnego.h>

#include <string.h>

#include "der.h"

/* ------------------------------------------------------------------------ */
/* Names                                                                      */
/* ------------------------------------------------------------------------ */

const char *negoex_neg_state_name(int state)
{
    static const char *const names[] = {"accept-completed", "accept-incomplete", "reject", "request-mic"};
    return state >= 0 && state < 4 ? names[state] : NULL;
}

const char *negoex_spnego_flag_name(unsigned bit)
{
    static const char *const names[] = {"delegFlag", "mutualFlag", "replayFlag", "sequenceFlag",
                                        "anonFlag",  "confFlag",   "integFlag"};
    return bit < sizeof names / sizeof names[0] ? names[bit] : NULL;
}

/* ------------------------------------------------------------------------ */
/* Reader                                                                     */
/* ------------------------------------------------------------------------ */

#define F_TOKEN "token"
#define F_INITIAL "InitialContextToken"
#define F_THIS_MECH "thisMech"
#define F_NEG_TOKEN "NegotiationToken"
#define F_INIT "NegTokenInit"
#define F_RESP "NegTokenResp"
#define F_MECH_TYPES "mechTypes"
#define F_REQ_FLAGS "reqFlags"
#define F_MECH_TOKEN "mechToken"
#define F_NEG_HINTS "negHints"
#define F_HINT_NAME "hintName"
#define F_HINT_ADDRESS "hintAddress"
#define F_MIC "mechListMIC"
#define F_NEG_STATE "negState"
#define F_SUPPORTED_MECH "supportedMech"
#define F_RESPONSE_TOKEN "responseToken"
#define F_SUPPORTED_MECHS "supportedMechs"

static negoex_bytes view(const der_reader *r, const der_tlv *t)
{
    negoex_bytes b = {der_content(r, t), t->len};
    return b;
}

/*
 * The next element of a SEQUENCE of explicitly tagged fields [0]..[max].
 * *num = -1 at the end of the sequence. A tag of another class after a field
 * is junk after the fields (DER_TRAILING), before any field a wrong tag
 * (DER_TAG); a context tag that is primitive, unknown, repeated or out of
 * order is DER_TAG. On success *inner reads the field's content.
 */
static int next_field(der_reader *r, int last, int max, const char *const *names, const char *container,
                      int *num, der_reader *inner, negoex_error_info *err)
{
    int tag = negoex_der_peek(r);
    if (tag < 0) {
        *num = -1;
        return NEGOEX_OK;
    }
    if ((tag & 0xc0) != 0x80)
        return negoex_der_fail(err, last < 0 ? NEGOEX_ERR_DER_TAG : NEGOEX_ERR_DER_TRAILING, r->pos, container);
    int n = tag & 0x1f;
    if (n == 0x1f || n > max)
        return negoex_der_fail(err, NEGOEX_ERR_DER_TAG, r->pos, container);
    if ((tag & 0x20) == 0 || n <= last)
        return negoex_der_fail(err, NEGOEX_ERR_DER_TAG, r->pos, names[n]);
    der_tlv wrap;
    int rc = negoex_der_read(r, (uint8_t)tag, names[n], &wrap, err);
    if (rc != NEGOEX_OK)
        return rc;
    negoex_der_enter(inner, r, &wrap);
    *num = n;
    return NEGOEX_OK;
}

/* Reads the one element inside an explicit tag; nothing may follow it. */
static int read_explicit(der_reader *inner, uint8_t tag, const char *field, der_tlv *t, negoex_error_info *err)
{
    int rc = negoex_der_read(inner, tag, field, t, err);
    return rc != NEGOEX_OK ? rc : negoex_der_expect_end(inner, field, err);
}

static int read_octets(der_reader *inner, const char *field, negoex_bytes *out, negoex_error_info *err)
{
    der_tlv t;
    int rc = read_explicit(inner, DER_TAG_OCTET_STRING, field, &t, err);
    if (rc == NEGOEX_OK)
        *out = view(inner, &t);
    return rc;
}

static int read_oid(der_reader *r, const char *field, der_tlv *t, negoex_error_info *err)
{
    int rc = negoex_der_read(r, DER_TAG_OID, field, t, err);
    if (rc != NEGOEX_OK)
        return rc;
    if (!negoex_oid_valid(der_content(r, t), t->len))
        return negoex_der_fail(err, NEGOEX_ERR_DER_VALUE, t->at, field);
    return NEGOEX_OK;
}

/* MechTypeList ::= SEQUENCE OF MechType; at least one. Used for mechTypes
 * and for Late Fallback's supportedMechs (field names the one read). */
static int read_mech_list(der_reader *inner, const char *field, negoex_bytes *whole, size_t *count_out,
                          negoex_error_info *err)
{
    der_tlv seq, oid;
    int rc = read_explicit(inner, DER_TAG_SEQUENCE, field, &seq, err);
    if (rc != NEGOEX_OK)
        return rc;
    der_reader list;
    negoex_der_enter(&list, inner, &seq);
    size_t count = 0;
    while (negoex_der_peek(&list) >= 0) {
        if ((rc = read_oid(&list, field, &oid, err)) != NEGOEX_OK)
            return rc;
        count++;
    }
    /* An empty list offers nothing to choose from (and an empty supportedMechs
     * could not be written back: the writer omits the field then). */
    if (count == 0)
        return negoex_der_fail(err, NEGOEX_ERR_DER_VALUE, seq.at, field);
    /* The whole TLV: it is what mechListMIC covers. */
    whole->data = inner->buf + seq.at;
    whole->len = seq.start + seq.len - seq.at;
    *count_out = count;
    return NEGOEX_OK;
}

static int read_mech_types(der_reader *inner, negoex_spnego_token *t, negoex_error_info *err)
{
    return read_mech_list(inner, F_MECH_TYPES, &t->mech_types, &t->mech_type_count, err);
}

/*
 * ContextFlags ::= BIT STRING (named bits). DER (X.690 11.2.2) drops trailing
 * zero bits, so the last octet's last used bit is 1 and the empty value is
 * 03 01 00; the unused bits are zero. Flags fit 32 bits (4 octets).
 */
static int read_req_flags(der_reader *inner, negoex_spnego_token *t, negoex_error_info *err)
{
    der_tlv bs;
    int rc = read_explicit(inner, DER_TAG_BIT_STRING, F_REQ_FLAGS, &bs, err);
    if (rc != NEGOEX_OK)
        return rc;
    const uint8_t *c = der_content(inner, &bs);
    size_t octets = bs.len ? bs.len - 1 : 0;
    if (bs.len == 0 || c[0] > 7 || octets > 4 || (octets == 0 && c[0] != 0))
        return negoex_der_fail(err, NEGOEX_ERR_DER_VALUE, bs.at, F_REQ_FLAGS);
    uint32_t flags = 0;
    if (octets != 0) {
        unsigned unused = c[0];
        uint8_t last = c[octets];
        if ((last & ((1u << unused) - 1)) != 0 || ((last >> unused) & 1u) == 0)
            return negoex_der_fail(err, NEGOEX_ERR_DER_VALUE, bs.at, F_REQ_FLAGS);
        /* Named bit n is bit 7 - n % 8 of octet n / 8. */
        for (size_t i = 0; i < octets; i++) {
            for (unsigned j = 0; j < 8; j++) {
                if (c[1 + i] & (0x80u >> j))
                    flags |= 1u << (8 * i + j);
            }
        }
    }
    t->has_req_flags = 1;
    t->req_flags = flags;
    return NEGOEX_OK;
}

/* NegHints ::= SEQUENCE { hintName [0] GeneralString OPTIONAL,
 *                         hintAddress [1] OCTET STRING OPTIONAL } */
static int read_neg_hints(const der_reader *inner, const der_tlv *seq, negoex_spnego_token *t,
                          negoex_error_info *err)
{
    static const char *const names[] = {F_HINT_NAME, F_HINT_ADDRESS};
    der_reader r, fr;
    der_tlv v;
    negoex_der_enter(&r, inner, seq);
    int last = -1, n, rc;
    for (;;) {
        if ((rc = next_field(&r, last, 1, names, F_NEG_HINTS, &n, &fr, err)) != NEGOEX_OK)
            return rc;
        if (n < 0)
            break;
        if (n == 0) {
            if ((rc = read_explicit(&fr, DER_TAG_GENERAL_STRING, F_HINT_NAME, &v, err)) != NEGOEX_OK)
                return rc;
            t->hint_name = view(&fr, &v);
        } else if ((rc = read_octets(&fr, F_HINT_ADDRESS, &t->hint_address, err)) != NEGOEX_OK) {
            return rc;
        }
        last = n;
    }
    /* Both hints absent cannot be written back (the writer omits negHints
     * then), so DER's one-encoding rule refuses it. */
    if (last < 0)
        return negoex_der_fail(err, NEGOEX_ERR_DER_VALUE, seq->at, F_NEG_HINTS);
    return NEGOEX_OK;
}

/*
 * NegTokenInit (RFC 4178) and NegTokenInit2 (MS-SPNG) share [0]..[2]; at [3]
 * a SEQUENCE is negHints (Init2, MIC then at [4]) and an OCTET STRING is
 * RFC 4178's mechListMIC (nothing may follow it).
 */
static int read_init(der_reader *r, negoex_spnego_token *t, negoex_error_info *err)
{
    const char *names[] = {F_MECH_TYPES, F_REQ_FLAGS, F_MECH_TOKEN, F_NEG_HINTS, F_MIC};
    der_reader fr;
    int last = -1, max = 4, n, rc;

    t->kind = NEGOEX_SPNEGO_NEG_TOKEN_INIT;
    for (;;) {
        size_t at = r->pos;
        if ((rc = next_field(r, last, max, names, F_INIT, &n, &fr, err)) != NEGOEX_OK)
            return rc;
        /* mechTypes is required and comes first. */
        if (last < 0 && n != 0)
            return negoex_der_fail(err, NEGOEX_ERR_DER_TAG, at, F_MECH_TYPES);
        if (n < 0)
            break;
        switch (n) {
        case 0:
            rc = read_mech_types(&fr, t, err);
            break;
        case 1:
            rc = read_req_flags(&fr, t, err);
            break;
        case 2:
            rc = read_octets(&fr, F_MECH_TOKEN, &t->mech_token, err);
            break;
        case 3:
            if (negoex_der_peek(&fr) == DER_TAG_SEQUENCE) {
                der_tlv seq;
                rc = read_explicit(&fr, DER_TAG_SEQUENCE, F_NEG_HINTS, &seq, err);
                if (rc == NEGOEX_OK)
                    rc = read_neg_hints(&fr, &seq, t, err);
                t->kind = NEGOEX_SPNEGO_NEG_TOKEN_INIT2;
            } else {
                names[3] = F_MIC;
                rc = read_octets(&fr, F_MIC, &t->mech_list_mic, err);
                max = 3; /* RFC 4178's last field: a MIC at [4] too would be a second one */
            }
            break;
        default:
            rc = read_octets(&fr, F_MIC, &t->mech_list_mic, err);
            t->kind = NEGOEX_SPNEGO_NEG_TOKEN_INIT2;
            break;
        }
        if (rc != NEGOEX_OK)
            return rc;
        last = n;
    }
    return NEGOEX_OK;
}

/* NegTokenResp ::= SEQUENCE { negState [0] ENUMERATED OPTIONAL, supportedMech [1]
 * OID OPTIONAL, responseToken [2] OCTET STRING OPTIONAL, mechListMIC [3] ...,
 * -- Late Fallback (our reading of MS-SPNG 3.1.5.1; RFC 4178's extension
 * -- marker leaves room for it): supportedMechs [4] MechTypeList OPTIONAL } */
static int read_resp(der_reader *r, unsigned flags, negoex_spnego_token *t, negoex_error_info *err)
{
    static const char *const names[] = {F_NEG_STATE, F_SUPPORTED_MECH, F_RESPONSE_TOKEN, F_MIC, F_SUPPORTED_MECHS};
    der_reader fr;
    der_tlv v;
    int last = -1, n, rc;
    /* Without Late Fallback a [4] is an unknown field, as before. */
    int max = (flags & NEGOEX_SPNEGO_PARSE_LATE_FALLBACK) ? 4 : 3;

    t->kind = NEGOEX_SPNEGO_NEG_TOKEN_RESP;
    for (;;) {
        if ((rc = next_field(r, last, max, names, F_RESP, &n, &fr, err)) != NEGOEX_OK)
            return rc;
        if (n < 0)
            break;
        switch (n) {
        case 0:
            rc = read_explicit(&fr, DER_TAG_ENUMERATED, F_NEG_STATE, &v, err);
            if (rc != NEGOEX_OK)
                return rc;
            /* Minimal encoding: 0..3 is one octet, anything else is out of range
             * or padded. */
            if (v.len != 1 || der_content(&fr, &v)[0] > NEGOEX_NEG_STATE_REQUEST_MIC)
                return negoex_der_fail(err, NEGOEX_ERR_DER_VALUE, v.at, F_NEG_STATE);
            t->neg_state = der_content(&fr, &v)[0];
            break;
        case 1:
            rc = read_oid(&fr, F_SUPPORTED_MECH, &v, err);
            if (rc == NEGOEX_OK)
                rc = negoex_der_expect_end(&fr, F_SUPPORTED_MECH, err);
            if (rc == NEGOEX_OK)
                t->supported_mech = view(&fr, &v);
            break;
        case 2:
            rc = read_octets(&fr, F_RESPONSE_TOKEN, &t->response_token, err);
            break;
        case 3:
            rc = read_octets(&fr, F_MIC, &t->mech_list_mic, err);
            break;
        default:
            rc = read_mech_list(&fr, F_SUPPORTED_MECHS, &t->supported_mechs, &t->supported_mech_count, err);
            break;
        }
        if (rc != NEGOEX_OK)
            return rc;
        last = n;
    }
    return NEGOEX_OK;
}

/* NegotiationToken ::= CHOICE { negTokenInit [0], negTokenResp [1] }: reads one
 * whole element; the caller checks what follows it. */
static int read_negotiation_token(der_reader *r, unsigned flags, negoex_spnego_token *t, negoex_error_info *err)
{
    int tag = negoex_der_peek(r);
    int init = tag == DER_TAG_CONTEXT(0);
    if (!init && tag != DER_TAG_CONTEXT(1)) {
        if (tag < 0)
            return negoex_der_fail(err, NEGOEX_ERR_DER_TRUNCATED, r->pos, F_NEG_TOKEN);
        return negoex_der_fail(err, NEGOEX_ERR_DER_TAG, r->pos, F_NEG_TOKEN);
    }
    der_tlv choice, seq;
    der_reader cr, sr;
    int rc = negoex_der_read(r, (uint8_t)tag, F_NEG_TOKEN, &choice, err);
    if (rc != NEGOEX_OK)
        return rc;
    negoex_der_enter(&cr, r, &choice);
    const char *name = init ? F_INIT : F_RESP;
    if ((rc = negoex_der_read(&cr, DER_TAG_SEQUENCE, name, &seq, err)) != NEGOEX_OK)
        return rc;
    negoex_der_enter(&sr, &cr, &seq);
    rc = init ? read_init(&sr, t, err) : read_resp(&sr, flags, t, err);
    if (rc != NEGOEX_OK)
        return rc;
    return negoex_der_expect_end(&cr, F_NEG_TOKEN, err);
}

int negoex_spnego_parse(const uint8_t *token, size_t len, negoex_spnego_token *out, negoex_error_info *err)
{
    return negoex_spnego_parse_ex(token, len, 0, out, err);
}

int negoex_spnego_parse_ex(const uint8_t *token, size_t len, unsigned flags, negoex_spnego_token *out,
                           negoex_error_info *err)
{
    if (out == NULL || (token == NULL && len != 0) || (flags & ~NEGOEX_SPNEGO_PARSE_LATE_FALLBACK) != 0)
        return negoex_der_fail(err, NEGOEX_ERR_INVALID_ARGUMENT, 0, F_TOKEN);
    if (len == 0)
        return negoex_der_fail(err, NEGOEX_ERR_EMPTY_TOKEN, 0, F_TOKEN);

    negoex_spnego_token t;
    memset(&t, 0, sizeof t);
    t.neg_state = NEGOEX_NEG_STATE_ABSENT;

    der_reader r;
    negoex_der_reader_init(&r, token, 0, len);
    int rc;
    const char *outer = F_NEG_TOKEN;
    if (token[0] == DER_TAG_APPLICATION_0) {
        /* RFC 2743 3.1: [APPLICATION 0] IMPLICIT SEQUENCE { thisMech, innerToken } */
        der_tlv app, mech;
        der_reader ar;
        outer = F_INITIAL;
        if ((rc = negoex_der_read(&r, DER_TAG_APPLICATION_0, F_INITIAL, &app, err)) != NEGOEX_OK)
            return rc;
        negoex_der_enter(&ar, &r, &app);
        if ((rc = read_oid(&ar, F_THIS_MECH, &mech, err)) != NEGOEX_OK)
            return rc;
        if (mech.len != NEGOEX_SPNEGO_OID_DER_LEN ||
            memcmp(der_content(&ar, &mech), NEGOEX_SPNEGO_OID_DER, NEGOEX_SPNEGO_OID_DER_LEN) != 0)
            return negoex_der_fail(err, NEGOEX_ERR_SPNEGO_OID, mech.at, F_THIS_MECH);
        if ((rc = read_negotiation_token(&ar, flags, &t, err)) != NEGOEX_OK)
            return rc;
        if ((rc = negoex_der_expect_end(&ar, F_INITIAL, err)) != NEGOEX_OK)
            return rc;
        t.framed = 1;
    } else if ((rc = read_negotiation_token(&r, flags, &t, err)) != NEGOEX_OK) {
        return rc;
    }
    if ((rc = negoex_der_expect_end(&r, outer, err)) != NEGOEX_OK)
        return rc;
    *out = t;
    return NEGOEX_OK;
}

int negoex_spnego_mech_list_iter_init(negoex_spnego_mech_iter *it, const negoex_bytes *list_tlv)
{
    if (it == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    memset(it, 0, sizeof *it);
    if (list_tlv == NULL || list_tlv->data == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    /* Walked again, checked again: the view may not come from our parser. */
    der_reader r, list;
    der_tlv seq;
    negoex_der_reader_init(&r, list_tlv->data, 0, list_tlv->len);
    if (negoex_der_read(&r, DER_TAG_SEQUENCE, F_MECH_TYPES, &seq, NULL) != NEGOEX_OK)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    negoex_der_enter(&list, &r, &seq);
    it->buf = list.buf;
    it->pos = list.pos;
    it->end = list.end;
    return NEGOEX_OK;
}

int negoex_spnego_mech_iter_init(negoex_spnego_mech_iter *it, const negoex_spnego_token *t)
{
    if (it == NULL || t == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    memset(it, 0, sizeof *it);
    if (t->kind == NEGOEX_SPNEGO_NEG_TOKEN_RESP)
        return NEGOEX_ERR_WRONG_TYPE;
    if (t->mech_types.data == NULL)
        return NEGOEX_ERR_INDEX_RANGE;
    return negoex_spnego_mech_list_iter_init(it, &t->mech_types);
}

int negoex_spnego_mech_iter_next(negoex_spnego_mech_iter *it, negoex_bytes *oid)
{
    if (it == NULL || oid == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    der_reader list;
    der_tlv e;
    negoex_der_reader_init(&list, it->buf, it->pos, it->end);
    if (it->buf == NULL || negoex_der_peek(&list) < 0)
        return 0;
    if (read_oid(&list, F_MECH_TYPES, &e, NULL) != NEGOEX_OK)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *oid = view(&list, &e);
    it->pos = list.pos;
    return 1;
}

int negoex_spnego_mech_type(const negoex_spnego_token *t, size_t index, negoex_bytes *oid)
{
    if (t == NULL || oid == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (t->kind == NEGOEX_SPNEGO_NEG_TOKEN_RESP)
        return NEGOEX_ERR_WRONG_TYPE;
    if (t->mech_types.data == NULL || index >= t->mech_type_count)
        return NEGOEX_ERR_INDEX_RANGE;
    negoex_spnego_mech_iter it;
    int rc = negoex_spnego_mech_iter_init(&it, t);
    for (size_t i = 0; rc == NEGOEX_OK; i++) {
        negoex_bytes b;
        int n = negoex_spnego_mech_iter_next(&it, &b);
        if (n <= 0)
            return n < 0 ? n : NEGOEX_ERR_INDEX_RANGE;
        if (i == index) {
            *oid = b;
            return NEGOEX_OK;
        }
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Writer                                                                     */
/* ------------------------------------------------------------------------ */

void negoex_spnego_fields_init(negoex_spnego_fields *f, negoex_spnego_kind kind)
{
    if (f == NULL)
        return;
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->neg_state = NEGOEX_NEG_STATE_ABSENT;
}

static int present(const negoex_bytes *b)
{
    return b->data != NULL;
}

/* {NULL, n > 0} is neither absent nor anything we could write. */
static int bytes_ok(const negoex_bytes *b)
{
    return b->data != NULL || b->len == 0;
}

static int oid_ok(const negoex_bytes *b)
{
    return negoex_oid_valid(b->data, b->len);
}

/* Content octets of the DER ContextFlags for these flags (trailing zero bits
 * dropped): out[0] = unused bits, then *n - 1 flag octets. */
static void flags_encode(uint32_t flags, uint8_t out[5], size_t *n)
{
    if (flags == 0) {
        out[0] = 0;
        *n = 1;
        return;
    }
    unsigned top = 0; /* highest named bit set */
    for (unsigned b = 0; b < 32; b++) {
        if (flags & (1u << b))
            top = b;
    }
    size_t octets = top / 8 + 1;
    memset(out, 0, 5);
    out[0] = (uint8_t)(7 - top % 8);
    for (unsigned b = 0; b <= top; b++) {
        if (flags & (1u << b))
            out[1 + b / 8] |= (uint8_t)(0x80u >> (b % 8));
    }
    *n = 1 + octets;
}

/* Size of a field [n] EXPLICIT wrapping one TLV of content length len. */
static int add_explicit(size_t *acc, size_t len)
{
    size_t inner = 0;
    int rc = negoex_der_add_tlv(&inner, len);
    return rc != NEGOEX_OK ? rc : negoex_der_add_tlv(acc, inner);
}

static uint8_t *put_explicit(uint8_t *p, uint8_t ctx, uint8_t tag, const uint8_t *v, size_t len)
{
    size_t inner = 0;
    (void)negoex_der_add_tlv(&inner, len); /* sized before: cannot fail */
    p = negoex_der_put_header(p, ctx, inner);
    return negoex_der_put_tlv(p, tag, v, len);
}

static int mech_list_content(const negoex_bytes *oids, size_t count, size_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        if (!oid_ok(&oids[i]))
            return NEGOEX_ERR_INVALID_ARGUMENT;
        int rc = negoex_der_add_tlv(&n, oids[i].len);
        if (rc != NEGOEX_OK)
            return rc;
    }
    *out = n;
    return NEGOEX_OK;
}

static uint8_t *put_mech_list(uint8_t *p, const negoex_bytes *oids, size_t count, size_t content)
{
    p = negoex_der_put_header(p, DER_TAG_SEQUENCE, content);
    for (size_t i = 0; i < count; i++)
        p = negoex_der_put_tlv(p, DER_TAG_OID, oids[i].data, oids[i].len);
    return p;
}

int negoex_spnego_write_mech_list(uint8_t *out, size_t cap, size_t *out_len, const negoex_bytes *oids,
                                  size_t count)
{
    if (out_len == NULL || oids == NULL || count == 0 || (out == NULL && cap != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    size_t content, total = 0;
    int rc = mech_list_content(oids, count, &content);
    if (rc == NEGOEX_OK)
        rc = negoex_der_add_tlv(&total, content);
    if (rc != NEGOEX_OK)
        return rc;
    *out_len = total;
    if (out == NULL)
        return NEGOEX_OK;
    if (cap < total)
        return NEGOEX_ERR_BUFFER_TOO_SMALL;
    put_mech_list(out, oids, count, content);
    return NEGOEX_OK;
}

/* The sizes of a token, computed once and used to write it. */
typedef struct layout {
    int init;             /* INIT or INIT2 */
    int mic_tag;          /* 3 (INIT, RESP) or 4 (INIT2) */
    int hints;            /* negHints written */
    uint8_t flags[5];
    size_t flags_len;
    size_t mech_list;     /* MechTypeList content */
    size_t supported_list; /* supportedMechs MechTypeList content */
    size_t hints_content; /* NegHints content */
    size_t seq;           /* NegTokenInit/Resp content */
    size_t choice;        /* [0]/[1] content = the SEQUENCE TLV */
    size_t app;           /* [APPLICATION 0] content when framed */
    size_t total;
} layout;

static int check_fields(const negoex_spnego_fields *f)
{
    if (!bytes_ok(&f->mech_token) || !bytes_ok(&f->hint_name) || !bytes_ok(&f->hint_address) ||
        !bytes_ok(&f->supported_mech) || !bytes_ok(&f->response_token) || !bytes_ok(&f->mech_list_mic))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    /* supportedMechs: absent is {NULL, 0}; a list has at least one OID. */
    if ((f->supported_mechs == NULL) != (f->supported_mech_count == 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    switch (f->kind) {
    case NEGOEX_SPNEGO_NEG_TOKEN_INIT:
    case NEGOEX_SPNEGO_NEG_TOKEN_INIT2:
        /* mechTypes is required; the NegTokenResp fields have no place here. */
        if (f->mech_types == NULL || f->mech_type_count == 0 || f->neg_state != NEGOEX_NEG_STATE_ABSENT ||
            present(&f->supported_mech) || present(&f->response_token) || f->supported_mechs != NULL)
            return NEGOEX_ERR_INVALID_ARGUMENT;
        if (f->kind == NEGOEX_SPNEGO_NEG_TOKEN_INIT && (present(&f->hint_name) || present(&f->hint_address)))
            return NEGOEX_ERR_INVALID_ARGUMENT;
        return NEGOEX_OK;
    case NEGOEX_SPNEGO_NEG_TOKEN_RESP:
        if (f->mech_types != NULL || f->mech_type_count != 0 || f->has_req_flags || present(&f->mech_token) ||
            present(&f->hint_name) || present(&f->hint_address))
            return NEGOEX_ERR_INVALID_ARGUMENT;
        if (f->neg_state != NEGOEX_NEG_STATE_ABSENT &&
            (f->neg_state < NEGOEX_NEG_STATE_ACCEPT_COMPLETED || f->neg_state > NEGOEX_NEG_STATE_REQUEST_MIC))
            return NEGOEX_ERR_INVALID_ARGUMENT;
        if (present(&f->supported_mech) && !oid_ok(&f->supported_mech))
            return NEGOEX_ERR_INVALID_ARGUMENT;
        return NEGOEX_OK;
    default:
        return NEGOEX_ERR_INVALID_ARGUMENT;
    }
}

static int plan(const negoex_spnego_fields *f, layout *l)
{
    int rc = check_fields(f);
    if (rc != NEGOEX_OK)
        return rc;
    memset(l, 0, sizeof *l);
    l->init = f->kind != NEGOEX_SPNEGO_NEG_TOKEN_RESP;
    l->mic_tag = f->kind == NEGOEX_SPNEGO_NEG_TOKEN_INIT2 ? 4 : 3;
    size_t s = 0;
    if (l->init) {
        size_t list = 0;
        if ((rc = mech_list_content(f->mech_types, f->mech_type_count, &l->mech_list)) != NEGOEX_OK ||
            (rc = negoex_der_add_tlv(&list, l->mech_list)) != NEGOEX_OK ||
            (rc = negoex_der_add_tlv(&s, list)) != NEGOEX_OK)
            return rc;
        if (f->has_req_flags) {
            flags_encode(f->req_flags, l->flags, &l->flags_len);
            (void)add_explicit(&s, l->flags_len);
        }
        if (present(&f->mech_token) && (rc = add_explicit(&s, f->mech_token.len)) != NEGOEX_OK)
            return rc;
        l->hints = present(&f->hint_name) || present(&f->hint_address);
        if (l->hints) {
            if ((present(&f->hint_name) && (rc = add_explicit(&l->hints_content, f->hint_name.len)) != NEGOEX_OK) ||
                (present(&f->hint_address) &&
                 (rc = add_explicit(&l->hints_content, f->hint_address.len)) != NEGOEX_OK) ||
                (rc = add_explicit(&s, l->hints_content)) != NEGOEX_OK)
                return rc;
        }
    } else {
        if (f->neg_state != NEGOEX_NEG_STATE_ABSENT)
            (void)add_explicit(&s, 1);
        if (present(&f->supported_mech) && (rc = add_explicit(&s, f->supported_mech.len)) != NEGOEX_OK)
            return rc;
        if (present(&f->response_token) && (rc = add_explicit(&s, f->response_token.len)) != NEGOEX_OK)
            return rc;
    }
    if (present(&f->mech_list_mic) && (rc = add_explicit(&s, f->mech_list_mic.len)) != NEGOEX_OK)
        return rc;
    if (f->supported_mechs != NULL) {
        size_t list = 0;
        if ((rc = mech_list_content(f->supported_mechs, f->supported_mech_count, &l->supported_list)) != NEGOEX_OK ||
            (rc = negoex_der_add_tlv(&list, l->supported_list)) != NEGOEX_OK ||
            (rc = negoex_der_add_tlv(&s, list)) != NEGOEX_OK)
            return rc;
    }
    l->seq = s;
    if ((rc = negoex_der_add_tlv(&l->choice, l->seq)) != NEGOEX_OK)
        return rc;
    size_t total = 0;
    if (f->framed) {
        if ((rc = negoex_der_add_tlv(&l->app, NEGOEX_SPNEGO_OID_DER_LEN)) != NEGOEX_OK ||
            (rc = negoex_der_add_tlv(&l->app, l->choice)) != NEGOEX_OK ||
            (rc = negoex_der_add_tlv(&total, l->app)) != NEGOEX_OK)
            return rc;
    } else if ((rc = negoex_der_add_tlv(&total, l->choice)) != NEGOEX_OK) {
        return rc;
    }
    l->total = total;
    return NEGOEX_OK;
}

static void emit(uint8_t *p, const negoex_spnego_fields *f, const layout *l)
{
    if (f->framed) {
        p = negoex_der_put_header(p, DER_TAG_APPLICATION_0, l->app);
        p = negoex_der_put_tlv(p, DER_TAG_OID, NEGOEX_SPNEGO_OID_DER, NEGOEX_SPNEGO_OID_DER_LEN);
    }
    p = negoex_der_put_header(p, DER_TAG_CONTEXT(l->init ? 0 : 1), l->choice);
    p = negoex_der_put_header(p, DER_TAG_SEQUENCE, l->seq);
    if (l->init) {
        size_t list = 0;
        (void)negoex_der_add_tlv(&list, l->mech_list);
        p = negoex_der_put_header(p, DER_TAG_CONTEXT(0), list);
        p = put_mech_list(p, f->mech_types, f->mech_type_count, l->mech_list);
        if (f->has_req_flags)
            p = put_explicit(p, DER_TAG_CONTEXT(1), DER_TAG_BIT_STRING, l->flags, l->flags_len);
        if (present(&f->mech_token))
            p = put_explicit(p, DER_TAG_CONTEXT(2), DER_TAG_OCTET_STRING, f->mech_token.data, f->mech_token.len);
        if (l->hints) {
            size_t seq = 0;
            (void)negoex_der_add_tlv(&seq, l->hints_content);
            p = negoex_der_put_header(p, DER_TAG_CONTEXT(3), seq);
            p = negoex_der_put_header(p, DER_TAG_SEQUENCE, l->hints_content);
            if (present(&f->hint_name))
                p = put_explicit(p, DER_TAG_CONTEXT(0), DER_TAG_GENERAL_STRING, f->hint_name.data,
                                 f->hint_name.len);
            if (present(&f->hint_address))
                p = put_explicit(p, DER_TAG_CONTEXT(1), DER_TAG_OCTET_STRING, f->hint_address.data,
                                 f->hint_address.len);
        }
    } else {
        if (f->neg_state != NEGOEX_NEG_STATE_ABSENT) {
            uint8_t st = (uint8_t)f->neg_state;
            p = put_explicit(p, DER_TAG_CONTEXT(0), DER_TAG_ENUMERATED, &st, 1);
        }
        if (present(&f->supported_mech))
            p = put_explicit(p, DER_TAG_CONTEXT(1), DER_TAG_OID, f->supported_mech.data, f->supported_mech.len);
        if (present(&f->response_token))
            p = put_explicit(p, DER_TAG_CONTEXT(2), DER_TAG_OCTET_STRING, f->response_token.data,
                             f->response_token.len);
    }
    if (present(&f->mech_list_mic))
        p = put_explicit(p, DER_TAG_CONTEXT(l->mic_tag), DER_TAG_OCTET_STRING, f->mech_list_mic.data,
                         f->mech_list_mic.len);
    if (f->supported_mechs != NULL) {
        size_t list = 0;
        (void)negoex_der_add_tlv(&list, l->supported_list);
        p = negoex_der_put_header(p, DER_TAG_CONTEXT(4), list);
        put_mech_list(p, f->supported_mechs, f->supported_mech_count, l->supported_list);
    }
}

int negoex_spnego_write(uint8_t *out, size_t cap, size_t *out_len, const negoex_spnego_fields *f)
{
    if (out_len == NULL || f == NULL || (out == NULL && cap != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    layout l;
    int rc = plan(f, &l);
    if (rc != NEGOEX_OK)
        return rc;
    *out_len = l.total;
    if (out == NULL)
        return NEGOEX_OK;
    if (cap < l.total)
        return NEGOEX_ERR_BUFFER_TOO_SMALL;
    emit(out, f, &l);
    return NEGOEX_OK;
}

/* ------------------------------------------------------------------------ */
/* Late Fallback mechListMIC input                                           */
/* ------------------------------------------------------------------------ */

/* 1 if b is exactly one DER MechTypeList of at least one valid OID. */
static int mech_list_tlv_ok(const negoex_bytes *b)
{
    if (b->data == NULL)
        return 0;
    der_reader r, list;
    der_tlv seq, oid;
    negoex_der_reader_init(&r, b->data, 0, b->len);
    if (negoex_der_read(&r, DER_TAG_SEQUENCE, F_MECH_TYPES, &seq, NULL) != NEGOEX_OK ||
        negoex_der_expect_end(&r, F_MECH_TYPES, NULL) != NEGOEX_OK)
        return 0;
    negoex_der_enter(&list, &r, &seq);
    size_t count = 0;
    while (negoex_der_peek(&list) >= 0) {
        if (read_oid(&list, F_MECH_TYPES, &oid, NULL) != NEGOEX_OK)
            return 0;
        count++;
    }
    return count > 0;
}

/*
 * MS-SPNG 3.1.5.1: with Late Fallback on both sides the mechListMIC
 * "consumes a list of all exchanged mechTypes and supportedMechs per the
 * order of over-the-wire transmission with delimiters". The byte format is
 * ours (docs/spnego-late-fallback.md): the lists as their fields carry them
 * ([0] or [4] around the MechTypeList TLV), in wire order, in one SEQUENCE.
 * The tags are the delimiters and also bind each list to the side that sent
 * it; DER makes the encoding unique.
 */
int negoex_spnego_late_fallback_mic_input(uint8_t *out, size_t cap, size_t *out_len,
                                          const negoex_spnego_sent_list *lists, size_t count)
{
    if (out_len == NULL || lists == NULL || count == 0 || (out == NULL && cap != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    size_t content = 0, total = 0;
    int rc;
    for (size_t i = 0; i < count; i++) {
        if ((lists[i].field != NEGOEX_SPNEGO_LIST_MECH_TYPES && lists[i].field != NEGOEX_SPNEGO_LIST_SUPPORTED_MECHS) ||
            !mech_list_tlv_ok(&lists[i].list))
            return NEGOEX_ERR_INVALID_ARGUMENT;
        if ((rc = negoex_der_add_tlv(&content, lists[i].list.len)) != NEGOEX_OK)
            return rc;
    }
    if ((rc = negoex_der_add_tlv(&total, content)) != NEGOEX_OK)
        return rc;
    *out_len = total;
    if (out == NULL)
        return NEGOEX_OK;
    if (cap < total)
        return NEGOEX_ERR_BUFFER_TOO_SMALL;
    uint8_t *p = negoex_der_put_header(out, DER_TAG_SEQUENCE, content);
    for (size_t i = 0; i < count; i++) {
        p = negoex_der_put_header(p, DER_TAG_CONTEXT(lists[i].field), lists[i].list.len);
        memcpy(p, lists[i].list.data, lists[i].list.len);
        p += lists[i].list.len;
    }
    return NEGOEX_OK;
}
