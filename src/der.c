/* Strict DER: one encoding per value, so what parses re-encodes to the same
 * bytes (the fuzz target checks it). No allocation, no copies. */
#include "der.h"

#include <string.h>

int negoex_der_fail(negoex_error_info *err, int code, size_t offset, const char *field)
{
    if (err != NULL) {
        err->code = code;
        err->offset = offset;
        err->field = field;
    }
    return code;
}

void negoex_der_reader_init(der_reader *r, const uint8_t *buf, size_t start, size_t end)
{
    r->buf = buf;
    r->pos = start;
    r->end = end;
}

void negoex_der_enter(der_reader *child, const der_reader *parent, const der_tlv *t)
{
    negoex_der_reader_init(child, parent->buf, t->start, t->start + t->len);
}

int negoex_der_peek(const der_reader *r)
{
    return r->pos < r->end ? r->buf[r->pos] : -1;
}

int negoex_der_read(der_reader *r, uint8_t tag, const char *field, der_tlv *t, negoex_error_info *err)
{
    size_t at = r->pos;
    size_t left = r->end - at;
    const uint8_t *p = r->buf + at;

    /* A required element where the container has ended: it was cut off. */
    if (left == 0)
        return negoex_der_fail(err, NEGOEX_ERR_DER_TRUNCATED, at, field);
    /* Low tag numbers only: SPNEGO never needs the multi-byte form. */
    if ((p[0] & 0x1f) == 0x1f || p[0] != tag)
        return negoex_der_fail(err, NEGOEX_ERR_DER_TAG, at, field);
    if (left < 2)
        return negoex_der_fail(err, NEGOEX_ERR_DER_TRUNCATED, at, field);

    size_t len, hdr;
    uint8_t l0 = p[1];
    if (l0 < 0x80) {
        len = l0;
        hdr = 2;
    } else {
        size_t n = l0 & 0x7fu;
        /* 0x80 is BER's indefinite form; more than 4 octets is never needed. */
        if (n == 0 || n > 4)
            return negoex_der_fail(err, NEGOEX_ERR_DER_LENGTH, at + 1, field);
        if (left - 2 < n)
            return negoex_der_fail(err, NEGOEX_ERR_DER_TRUNCATED, at, field);
        /* Minimal: no leading zero octet, and long form only from 128 on. */
        if (p[2] == 0)
            return negoex_der_fail(err, NEGOEX_ERR_DER_LENGTH, at + 1, field);
        uint32_t v = 0;
        for (size_t i = 0; i < n; i++)
            v = v << 8 | p[2 + i];
        if (v < 0x80)
            return negoex_der_fail(err, NEGOEX_ERR_DER_LENGTH, at + 1, field);
        len = v;
        hdr = 2 + n;
    }
    if (left - hdr < len)
        return negoex_der_fail(err, NEGOEX_ERR_DER_TRUNCATED, at, field);

    t->tag = tag;
    t->at = at;
    t->start = at + hdr;
    t->len = len;
    r->pos = at + hdr + len;
    return NEGOEX_OK;
}

int negoex_der_expect_end(const der_reader *r, const char *field, negoex_error_info *err)
{
    if (r->pos != r->end)
        return negoex_der_fail(err, NEGOEX_ERR_DER_TRAILING, r->pos, field);
    return NEGOEX_OK;
}

size_t negoex_der_len_size(size_t len)
{
    if (len < 0x80)
        return 1;
    size_t n = 1;
    while (len > 0xff) {
        len >>= 8;
        n++;
    }
    return 1 + n;
}

int negoex_der_add(size_t *acc, size_t n)
{
    if (n > SIZE_MAX - *acc)
        return NEGOEX_ERR_TOO_LARGE;
    *acc += n;
    return NEGOEX_OK;
}

int negoex_der_add_tlv(size_t *acc, size_t content)
{
    if ((uint64_t)content > DER_MAX_LEN)
        return NEGOEX_ERR_TOO_LARGE;
    int rc = negoex_der_add(acc, 1 + negoex_der_len_size(content));
    return rc != NEGOEX_OK ? rc : negoex_der_add(acc, content);
}

uint8_t *negoex_der_put_header(uint8_t *p, uint8_t tag, size_t len)
{
    *p++ = tag;
    size_t n = negoex_der_len_size(len);
    if (n == 1) {
        *p++ = (uint8_t)len;
        return p;
    }
    *p++ = (uint8_t)(0x80u | (n - 1));
    for (size_t i = n - 1; i-- > 0;)
        *p++ = (uint8_t)(len >> (8 * i));
    return p;
}

uint8_t *negoex_der_put_tlv(uint8_t *p, uint8_t tag, const uint8_t *value, size_t len)
{
    p = negoex_der_put_header(p, tag, len);
    if (len != 0)
        memcpy(p, value, len);
    return p + len;
}
