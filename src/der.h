/* Internal strict DER reader/writer for SPNEGO (docs/spnego-errors.md).
 *
 * Reader: zero-copy, over [pos, end) of one buffer; offsets are absolute in
 * that buffer. Accepted: single-byte tags (low tag numbers), definite minimal
 * lengths of at most 4 length octets, content inside the container.
 * Writer: sizes first (overflow-checked), then bytes into caller memory. */
#ifndef NEGOEX_DER_H
#define NEGOEX_DER_H

#include <negoex/negoex.h>

#include <stddef.h>
#include <stdint.h>

#define DER_TAG_BIT_STRING 0x03u
#define DER_TAG_OCTET_STRING 0x04u
#define DER_TAG_OID 0x06u
#define DER_TAG_ENUMERATED 0x0au
#define DER_TAG_GENERAL_STRING 0x1bu
#define DER_TAG_SEQUENCE 0x30u
#define DER_TAG_APPLICATION_0 0x60u /* RFC 2743 InitialContextToken */
#define DER_TAG_CONTEXT(n) ((uint8_t)(0xa0u | (n))) /* constructed [n], n < 31 */

#define DER_MAX_LEN 0xffffffffu /* 4 length octets */
#define DER_MAX_HEADER 6u       /* tag + 0x84 + 4 length octets */

typedef struct der_reader {
    const uint8_t *buf; /* the whole token: offsets are absolute */
    size_t pos;
    size_t end;
} der_reader;

typedef struct der_tlv {
    uint8_t tag;
    size_t at;    /* offset of the tag byte */
    size_t start; /* offset of the content */
    size_t len;   /* content length */
} der_tlv;

/* Records a failure in err (may be NULL) and returns code. */
int negoex_der_fail(negoex_error_info *err, int code, size_t offset, const char *field);

void negoex_der_reader_init(der_reader *r, const uint8_t *buf, size_t start, size_t end);
/* A reader over the content of t (same buffer). */
void negoex_der_enter(der_reader *child, const der_reader *parent, const der_tlv *t);
/* The next tag byte, or -1 when nothing is left. */
int negoex_der_peek(const der_reader *r);

/* Reads one TLV whose tag must be `tag` and advances past it. Errors (field
 * names the element): DER_TRUNCATED at the TLV offset when nothing is left, the
 * length octets or the content run past r->end; DER_TAG at the TLV for
 * high-tag form or another tag; DER_LENGTH at the first length octet for
 * indefinite, non-minimal or more than 4 length octets. */
int negoex_der_read(der_reader *r, uint8_t tag, const char *field, der_tlv *t, negoex_error_info *err);

/* DER_TRAILING at r->pos if anything is left. */
int negoex_der_expect_end(const der_reader *r, const char *field, negoex_error_info *err);

static inline const uint8_t *der_content(const der_reader *r, const der_tlv *t)
{
    return r->buf + t->start;
}

/* Writer. */

/* Size of the length octets for a content length (<= DER_MAX_LEN). */
size_t negoex_der_len_size(size_t len);
/* *acc += tag + length octets + content; NEGOEX_ERR_TOO_LARGE if content >
 * DER_MAX_LEN or the sum overflows. */
int negoex_der_add_tlv(size_t *acc, size_t content);
/* Checked *acc += n. */
int negoex_der_add(size_t *acc, size_t n);
/* Writes tag and length; returns the position of the content. */
uint8_t *negoex_der_put_header(uint8_t *p, uint8_t tag, size_t len);
/* Writes a whole primitive TLV; returns the position after it. */
uint8_t *negoex_der_put_tlv(uint8_t *p, uint8_t tag, const uint8_t *value, size_t len);

#endif
