/* SPNEGO token fragmentation, MS-SPNG rev 21.0 sections 3.1.1 (FragmentToFit,
 * MaxOutputTokenSize), 3.1.5.6 InitFragmentToken, 3.1.5.7 FragmentToken,
 * 3.1.5.8 Send Fragmented Messages, 3.1.5.9 InitAssembleToken, 3.1.5.10
 * AssembleToken, 3.1.5.11 Receive Fragmented Messages.
 *
 * The spec defines no fragment format: a fragment is a slice of the token.
 * The first slice starts with the token's ASN.1 header (the top-level tag and
 * length, 3.1.5.8), which is how the receiver learns the whole length
 * (3.1.5.9). Splitting gives views into the caller's token; reassembly copies
 * into a buffer the caller owns. Nothing here allocates.
 * Choices and limits: docs/spnego-late-fallback.md. */
#include <negoex/spnego.h>

#include <string.h>

#include "der.h"

#define F_FRAGMENT "fragment"
#define F_FRAGMENT_SIZE "fragment size"
#define F_FRAGMENT_COUNT "fragment count"
#define F_INITIAL "InitialContextToken"
#define F_NEG_TOKEN "NegotiationToken"

int negoex_spnego_fragment_parse(const uint8_t *frag, size_t len, negoex_spnego_fragment_header *out,
                                 negoex_error_info *err)
{
    if (out == NULL || (frag == NULL && len != 0))
        return negoex_der_fail(err, NEGOEX_ERR_INVALID_ARGUMENT, 0, F_FRAGMENT);
    if (len == 0)
        return negoex_der_fail(err, NEGOEX_ERR_EMPTY_TOKEN, 0, F_FRAGMENT);
    /* The three outer forms negoex_spnego_parse accepts. */
    uint8_t tag = frag[0];
    const char *field = tag == DER_TAG_APPLICATION_0 ? F_INITIAL : F_NEG_TOKEN;
    if (tag != DER_TAG_APPLICATION_0 && tag != DER_TAG_CONTEXT(0) && tag != DER_TAG_CONTEXT(1))
        return negoex_der_fail(err, NEGOEX_ERR_DER_TAG, 0, field);
    if (len < 2)
        return negoex_der_fail(err, NEGOEX_ERR_DER_TRUNCATED, 0, field);
    /* The same length rules as the DER reader (docs/spnego-errors.md 13-15). */
    size_t content, hdr;
    uint8_t l0 = frag[1];
    if (l0 < 0x80) {
        content = l0;
        hdr = 2;
    } else {
        size_t n = l0 & 0x7fu;
        if (n == 0 || n > 4)
            return negoex_der_fail(err, NEGOEX_ERR_DER_LENGTH, 1, field);
        if (len - 2 < n)
            return negoex_der_fail(err, NEGOEX_ERR_DER_TRUNCATED, 0, field);
        if (frag[2] == 0)
            return negoex_der_fail(err, NEGOEX_ERR_DER_LENGTH, 1, field);
        uint32_t v = 0;
        for (size_t i = 0; i < n; i++)
            v = v << 8 | frag[2 + i];
        if (v < 0x80)
            return negoex_der_fail(err, NEGOEX_ERR_DER_LENGTH, 1, field);
        /* Only a 32-bit size_t can overflow here. */
        if ((size_t)v > SIZE_MAX - (2 + n))
            return negoex_der_fail(err, NEGOEX_ERR_TOO_LARGE, 1, field);
        content = v;
        hdr = 2 + n;
    }
    out->tag = tag;
    out->header_len = hdr;
    out->token_len = hdr + content;
    return NEGOEX_OK;
}

/* ------------------------------------------------------------------------ */
/* Splitter                                                                   */
/* ------------------------------------------------------------------------ */

int negoex_spnego_fragment_split(const uint8_t *token, size_t len, size_t max_fragment, size_t *count)
{
    negoex_spnego_fragment_header h;
    if (count == NULL || token == NULL || len == 0 || max_fragment < NEGOEX_SPNEGO_FRAGMENT_MIN_SEND)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    /* Only a whole token can be cut so that the receiver finds its length in
     * the first piece (3.1.5.8); a 6-byte minimum holds any DER header. */
    if (negoex_spnego_fragment_parse(token, len, &h, NULL) != NEGOEX_OK || h.token_len != len)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *count = len / max_fragment + (len % max_fragment != 0);
    return NEGOEX_OK;
}

int negoex_spnego_fragment_get(const uint8_t *token, size_t len, size_t max_fragment, size_t index,
                               negoex_bytes *frag)
{
    size_t count;
    if (frag == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    int rc = negoex_spnego_fragment_split(token, len, max_fragment, &count);
    if (rc != NEGOEX_OK)
        return rc;
    if (index >= count)
        return NEGOEX_ERR_INDEX_RANGE;
    /* 3.1.5.6/3.1.5.7: MaxOutputTokenSize bytes each, the rest last. */
    size_t at = index * max_fragment;
    frag->data = token + at;
    frag->len = len - at < max_fragment ? len - at : max_fragment;
    return NEGOEX_OK;
}

/* ------------------------------------------------------------------------ */
/* Reassembler                                                                */
/* ------------------------------------------------------------------------ */

int negoex_spnego_reassembler_init(negoex_spnego_reassembler *r, uint8_t *buf, size_t cap)
{
    if (r == NULL || (buf == NULL && cap != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    memset(r, 0, sizeof *r);
    r->max_fragments = NEGOEX_SPNEGO_REASSEMBLY_MAX_FRAGMENTS;
    r->max_token = cap < NEGOEX_SPNEGO_REASSEMBLY_MAX_TOKEN ? cap : NEGOEX_SPNEGO_REASSEMBLY_MAX_TOKEN;
    r->buf = buf;
    r->cap = cap;
    return NEGOEX_OK;
}

void negoex_spnego_reassembler_reset(negoex_spnego_reassembler *r)
{
    if (r == NULL)
        return;
    r->have = 0;
    r->need = 0;
    r->first_len = 0;
    r->fragments = 0;
    r->done = 0;
}

/* The whole token must be one valid SPNEGO token (the parser's rules and
 * offsets); only then does the state move. */
static int check_whole(const negoex_spnego_reassembler *r, const uint8_t *token, size_t len, negoex_error_info *err)
{
    negoex_spnego_token t;
    return negoex_spnego_parse_ex(token, len, r->parse_flags, &t, err);
}

static int feed_first(negoex_spnego_reassembler *r, const uint8_t *frag, size_t len, negoex_bytes *token,
                      negoex_error_info *err)
{
    negoex_spnego_fragment_header h;
    /* 3.1.5.9: the length comes from the ASN.1 header of the first fragment. */
    int rc = negoex_spnego_fragment_parse(frag, len, &h, err);
    if (rc != NEGOEX_OK)
        return rc;
    size_t limit = r->max_token < r->cap ? r->max_token : r->cap;
    if (h.token_len > limit)
        return negoex_der_fail(err, NEGOEX_ERR_TOKEN_TOO_LARGE, 0, F_FRAGMENT);
    if (len > h.token_len)
        return negoex_der_fail(err, NEGOEX_ERR_FRAGMENT_INCONSISTENT, h.token_len, F_FRAGMENT);
    if (r->max_fragments < 1)
        return negoex_der_fail(err, NEGOEX_ERR_FRAGMENT_COUNT, 0, F_FRAGMENT_COUNT);
    if (len == h.token_len) {
        /* Not fragmented: checked where it lies, then copied. */
        if ((rc = check_whole(r, frag, len, err)) != NEGOEX_OK)
            return rc;
        memcpy(r->buf, frag, len);
        r->have = r->need = r->first_len = len;
        r->fragments = 1;
        r->done = 1;
        token->data = r->buf;
        token->len = len;
        return NEGOEX_COMPLETE;
    }
    /* 3.1.1 / 3.1.5.8: MaxOutputTokenSize is at least 5 bytes. */
    if (len < NEGOEX_SPNEGO_FRAGMENT_MIN_RECV)
        return negoex_der_fail(err, NEGOEX_ERR_FRAGMENT_INCONSISTENT, len, F_FRAGMENT_SIZE);
    /* Every fragment but the last has the first one's size (3.1.5.7), so the
     * count is known now: refuse at once rather than after max_fragments
     * round trips. */
    size_t total = h.token_len / len + (h.token_len % len != 0);
    if (total > r->max_fragments)
        return negoex_der_fail(err, NEGOEX_ERR_FRAGMENT_COUNT, len, F_FRAGMENT_COUNT);
    memcpy(r->buf, frag, len);
    r->have = len;
    r->need = h.token_len;
    r->first_len = len;
    r->fragments = 1;
    r->done = 0;
    return NEGOEX_CONTINUE;
}

static int feed_next(negoex_spnego_reassembler *r, const uint8_t *frag, size_t len, negoex_bytes *token,
                     negoex_error_info *err)
{
    size_t left = r->need - r->have;
    if (len == 0)
        return negoex_der_fail(err, NEGOEX_ERR_EMPTY_TOKEN, r->have, F_FRAGMENT);
    /* 3.1.5.10 appends until TokenLength is reached; more than that is not
     * this token's. */
    if (len > left)
        return negoex_der_fail(err, NEGOEX_ERR_FRAGMENT_INCONSISTENT, r->need, F_FRAGMENT);
    /* 3.1.5.6/3.1.5.7: every fragment but the last is MaxOutputTokenSize
     * bytes, the size of the first. */
    if (len > r->first_len)
        return negoex_der_fail(err, NEGOEX_ERR_FRAGMENT_INCONSISTENT, r->have + r->first_len, F_FRAGMENT_SIZE);
    if (len < r->first_len && len < left)
        return negoex_der_fail(err, NEGOEX_ERR_FRAGMENT_INCONSISTENT, r->have + len, F_FRAGMENT_SIZE);
    /* A fragment that does not end the token must leave room for the next. */
    if (len < left && r->fragments + 1 >= r->max_fragments)
        return negoex_der_fail(err, NEGOEX_ERR_FRAGMENT_COUNT, r->have + len, F_FRAGMENT_COUNT);
    /* Bytes past r->have are scratch: writing them changes no state. */
    memcpy(r->buf + r->have, frag, len);
    if (len < left) {
        r->have += len;
        r->fragments++;
        return NEGOEX_CONTINUE;
    }
    int rc = check_whole(r, r->buf, r->need, err);
    if (rc != NEGOEX_OK)
        return rc;
    r->have = r->need;
    r->fragments++;
    r->done = 1;
    token->data = r->buf;
    token->len = r->need;
    return NEGOEX_COMPLETE;
}

int negoex_spnego_reassembler_feed(negoex_spnego_reassembler *r, const uint8_t *frag, size_t len,
                                   negoex_bytes *token, negoex_error_info *err)
{
    if (r == NULL || token == NULL || (frag == NULL && len != 0) || (r->buf == NULL && r->cap != 0))
        return negoex_der_fail(err, NEGOEX_ERR_INVALID_ARGUMENT, 0, F_FRAGMENT);
    /* A finished token (or none yet): this input starts the next one. The
     * old counters stay until the new first fragment is accepted. */
    if (r->done || r->have == 0) {
        negoex_spnego_reassembler saved = *r;
        negoex_spnego_reassembler_reset(r);
        int rc = feed_first(r, frag, len, token, err);
        if (rc < 0)
            *r = saved;
        return rc;
    }
    return feed_next(r, frag, len, token, err);
}
