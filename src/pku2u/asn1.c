/* PKU2U ASN.1 core: the libtasn1 schemas (generated from the .asn modules at
 * build time, loaded once), the strict DER walk every decoder runs first,
 * and typed readers that turn decoded elements into views of the input.
 *
 * libtasn1 copies values into its own nodes; the readers instead take each
 * element's [start, end] from libtasn1 (asn1_der_decoding_startEnd without
 * re-decoding) and read the TLV there, so every view points into the
 * caller's buffer. */
#include "pku2u/asn1_internal.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

extern const asn1_static_node negoex_krb5_asn1_tab[];
extern const asn1_static_node negoex_pkinit_asn1_tab[];
extern const asn1_static_node negoex_cms_asn1_tab[];
extern const asn1_static_node negoex_pku2u_asn1_tab[];

const uint8_t NEGOEX_OID_PKU2U[NEGOEX_OID_PKU2U_LEN] = {0x2b, 0x06, 0x01, 0x05, 0x02, 0x07};
const uint8_t NEGOEX_OID_PKINIT_AUTHDATA[NEGOEX_OID_PKINIT_AUTHDATA_LEN] = {0x2b, 0x06, 0x01, 0x05, 0x02, 0x03, 0x01};
const uint8_t NEGOEX_OID_PKINIT_DHKEYDATA[NEGOEX_OID_PKINIT_DHKEYDATA_LEN] = {0x2b, 0x06, 0x01, 0x05, 0x02, 0x03, 0x02};
const uint8_t NEGOEX_OID_DHPUBLICNUMBER[NEGOEX_OID_DHPUBLICNUMBER_LEN] = {0x2a, 0x86, 0x48, 0xce, 0x3e, 0x02, 0x01};
const uint8_t NEGOEX_OID_CMS_SIGNED_DATA[NEGOEX_OID_CMS_SIGNED_DATA_LEN] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
                                                                            0x0d, 0x01, 0x07, 0x02};

int negoex_asn1_oid_is(negoex_bytes v, const uint8_t *oid, size_t n)
{
    return v.data != NULL && v.len == n && memcmp(v.data, oid, n) == 0;
}

/* ------------------------------------------------------------------------ */
/* Schemas                                                                   */
/* ------------------------------------------------------------------------ */

static pthread_once_t schemas_once = PTHREAD_ONCE_INIT;
static asn1_node schemas[ASN1_MOD_COUNT_];
static int schemas_rc = NEGOEX_OK;

static void schemas_load(void)
{
    static const asn1_static_node *const tabs[ASN1_MOD_COUNT_] = {
        [ASN1_MOD_KRB5] = negoex_krb5_asn1_tab,
        [ASN1_MOD_PKINIT] = negoex_pkinit_asn1_tab,
        [ASN1_MOD_CMS] = negoex_cms_asn1_tab,
        [ASN1_MOD_PKU2U] = negoex_pku2u_asn1_tab,
    };
    for (int i = 0; i < ASN1_MOD_COUNT_; i++) {
        char desc[ASN1_MAX_ERROR_DESCRIPTION_SIZE];
        if (asn1_array2tree(tabs[i], &schemas[i], desc) != ASN1_SUCCESS) {
            /* The arrays come from asn1Parser: only memory can fail here. */
            schemas_rc = NEGOEX_ERR_NO_MEMORY;
            return;
        }
    }
}

int asn1_fail(negoex_error_info *err, int code, size_t offset, const char *field)
{
    if (err != NULL) {
        err->code = code;
        err->offset = offset;
        err->field = field;
    }
    return code;
}

/* ------------------------------------------------------------------------ */
/* Strict DER walk                                                           */
/* ------------------------------------------------------------------------ */

#define DER_MAX_DEPTH 40u

typedef struct der_hdr {
    uint8_t first;   /* the first tag octet (class, constructed, low number) */
    uint32_t number; /* tag number */
    size_t hdr;      /* tag + length octets */
    size_t len;      /* content length */
} der_hdr;

/* One TLV header at b[at] inside b[..end), canonical DER only. */
static int der_header(const uint8_t *b, size_t at, size_t end, const char *field, negoex_error_info *err,
                      der_hdr *h)
{
    size_t pos = at;
    if (pos >= end)
        return asn1_fail(err, NEGOEX_ERR_DER_TRUNCATED, at, field);
    h->first = b[pos++];
    h->number = h->first & 0x1fu;
    if (h->number == 0x1fu) {
        /* High tag number form: base 128, no leading 0x80, at least 31. */
        uint32_t v = 0;
        for (size_t n = 0;; n++) {
            if (pos >= end)
                return asn1_fail(err, NEGOEX_ERR_DER_TRUNCATED, at, field);
            uint8_t c = b[pos++];
            if ((n == 0 && c == 0x80) || n >= 4)
                return asn1_fail(err, NEGOEX_ERR_DER_TAG, at, field);
            v = v << 7 | (c & 0x7fu);
            if (!(c & 0x80))
                break;
        }
        if (v < 0x1f)
            return asn1_fail(err, NEGOEX_ERR_DER_TAG, at, field);
        h->number = v;
    }
    if (pos >= end)
        return asn1_fail(err, NEGOEX_ERR_DER_TRUNCATED, at, field);
    uint8_t l0 = b[pos++];
    size_t len;
    if (l0 < 0x80) {
        len = l0;
    } else {
        size_t n = l0 & 0x7fu;
        /* 0x80 is BER's indefinite form; more than 4 octets is never needed. */
        if (n == 0 || n > 4)
            return asn1_fail(err, NEGOEX_ERR_DER_LENGTH, pos - 1, field);
        if (end - pos < n)
            return asn1_fail(err, NEGOEX_ERR_DER_TRUNCATED, at, field);
        if (b[pos] == 0)
            return asn1_fail(err, NEGOEX_ERR_DER_LENGTH, pos - 1, field);
        uint32_t v = 0;
        for (size_t i = 0; i < n; i++)
            v = v << 8 | b[pos + i];
        if (v < 0x80)
            return asn1_fail(err, NEGOEX_ERR_DER_LENGTH, pos - 1, field);
        len = v;
        pos += n;
    }
    if (end - pos < len)
        return asn1_fail(err, NEGOEX_ERR_DER_TRUNCATED, at, field);
    h->hdr = pos - at;
    h->len = len;
    return NEGOEX_OK;
}

/* X.690 11.7 / 11.8: GeneralizedTime YYYYMMDDHHMMSS[.f*]Z (no trailing zero
 * in the fraction), UTCTime YYMMDDHHMMSSZ. */
static int der_time_ok(const uint8_t *c, size_t len, size_t digits)
{
    if (len < digits + 1 || c[len - 1] != 'Z')
        return 0;
    for (size_t i = 0; i < digits; i++)
        if (c[i] < '0' || c[i] > '9')
            return 0;
    if (len == digits + 1)
        return 1;
    if (digits != 14 || c[digits] != '.' || len < digits + 3 || c[len - 2] == '0')
        return 0;
    for (size_t i = digits + 1; i < len - 1; i++)
        if (c[i] < '0' || c[i] > '9')
            return 0;
    return 1;
}

/* The DER rules of primitive universal types this library meets. */
static int der_check_primitive(const uint8_t *c, size_t len, uint32_t number, size_t at, const char *field,
                               negoex_error_info *err)
{
    switch (number) {
    case 1: /* BOOLEAN */
        if (len != 1 || (c[0] != 0x00 && c[0] != 0xff))
            return asn1_fail(err, NEGOEX_ERR_DER_VALUE, at, field);
        break;
    case 2:  /* INTEGER */
    case 10: /* ENUMERATED */
        if (len == 0 || (len > 1 && ((c[0] == 0x00 && !(c[1] & 0x80)) || (c[0] == 0xff && (c[1] & 0x80)))))
            return asn1_fail(err, NEGOEX_ERR_DER_VALUE, at, field);
        break;
    case 3: /* BIT STRING: unused bits 0..7, none without octets, and zero */
        if (len == 0 || c[0] > 7 || (len == 1 && c[0] != 0) || (len > 1 && (c[len - 1] & ((1u << c[0]) - 1u))))
            return asn1_fail(err, NEGOEX_ERR_DER_VALUE, at, field);
        break;
    case 5: /* NULL */
        if (len != 0)
            return asn1_fail(err, NEGOEX_ERR_DER_VALUE, at, field);
        break;
    case 6: /* OBJECT IDENTIFIER: minimal base-128 arcs, last one complete */
        if (len == 0 || (c[len - 1] & 0x80))
            return asn1_fail(err, NEGOEX_ERR_DER_VALUE, at, field);
        for (size_t i = 0; i < len; i++)
            if (c[i] == 0x80 && (i == 0 || !(c[i - 1] & 0x80)))
                return asn1_fail(err, NEGOEX_ERR_DER_VALUE, at, field);
        break;
    case 23: /* UTCTime */
    case 24: /* GeneralizedTime */
        if (!der_time_ok(c, len, number == 23 ? 12 : 14))
            return asn1_fail(err, NEGOEX_ERR_DER_VALUE, at, field);
        break;
    case 0:  /* end-of-contents: BER only */
    case 16: /* SEQUENCE and SET are constructed */
    case 17:
        return asn1_fail(err, NEGOEX_ERR_DER_TAG, at, field);
    default:
        break;
    }
    return NEGOEX_OK;
}

static int der_check_tlv(const uint8_t *b, size_t at, size_t end, unsigned depth, const char *field,
                         negoex_error_info *err, size_t *next);

static int der_check_content(const uint8_t *b, size_t pos, size_t end, unsigned depth, const char *field,
                             negoex_error_info *err)
{
    while (pos < end) {
        int rc = der_check_tlv(b, pos, end, depth, field, err, &pos);
        if (rc != NEGOEX_OK)
            return rc;
    }
    return NEGOEX_OK;
}

static int der_check_tlv(const uint8_t *b, size_t at, size_t end, unsigned depth, const char *field,
                         negoex_error_info *err, size_t *next)
{
    der_hdr h;
    int rc = der_header(b, at, end, field, err, &h);
    if (rc != NEGOEX_OK)
        return rc;
    const uint8_t *c = b + at + h.hdr;
    int universal = (h.first & 0xc0u) == 0;
    if (h.first & 0x20u) {
        /* Constructed: only SEQUENCE / SET among universal types (DER has
         * no constructed strings). */
        if (universal && h.number != 16 && h.number != 17)
            return asn1_fail(err, NEGOEX_ERR_DER_VALUE, at, field);
        if (depth >= DER_MAX_DEPTH)
            return asn1_fail(err, NEGOEX_ERR_DER_VALUE, at, field);
        rc = der_check_content(b, at + h.hdr, at + h.hdr + h.len, depth + 1, field, err);
        if (rc != NEGOEX_OK)
            return rc;
    } else if (universal) {
        rc = der_check_primitive(c, h.len, h.number, at, field, err);
        if (rc != NEGOEX_OK)
            return rc;
    }
    *next = at + h.hdr + h.len;
    return NEGOEX_OK;
}

int asn1_der_check(const uint8_t *buf, size_t len, const char *field, negoex_error_info *err)
{
    size_t next = 0;
    int rc = der_check_tlv(buf, 0, len, 0, field, err, &next);
    if (rc != NEGOEX_OK)
        return rc;
    if (next != len)
        return asn1_fail(err, NEGOEX_ERR_DER_TRAILING, next, field);
    return NEGOEX_OK;
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                  */
/* ------------------------------------------------------------------------ */

int asn1_dec_init(asn1_dec *d, enum asn1_module module, const char *type, const uint8_t *buf, size_t len,
                  const char *field, negoex_error_info *err)
{
    d->node = NULL;
    d->buf = buf;
    d->len = len;
    d->err = err;
    if (buf == NULL && len != 0)
        return asn1_fail(err, NEGOEX_ERR_INVALID_ARGUMENT, 0, field);
    if (len > INT_MAX)
        return asn1_fail(err, NEGOEX_ERR_TOO_LARGE, 0, field);
    int rc = asn1_der_check(buf, len, field, err);
    if (rc != NEGOEX_OK)
        return rc;
    if (pthread_once(&schemas_once, schemas_load) != 0)
        return asn1_fail(err, NEGOEX_ERR_NO_MEMORY, 0, field);
    if (schemas_rc != NEGOEX_OK)
        return asn1_fail(err, schemas_rc, 0, field);
    rc = asn1_create_element(schemas[module], type, &d->node);
    if (rc != ASN1_SUCCESS) {
        d->node = NULL;
        return asn1_fail(err, rc == ASN1_ELEMENT_NOT_FOUND ? NEGOEX_ERR_INVALID_ARGUMENT : NEGOEX_ERR_NO_MEMORY, 0,
                         field);
    }
    int consumed = (int)len;
    char desc[ASN1_MAX_ERROR_DESCRIPTION_SIZE];
    rc = asn1_der_decoding2(&d->node, buf, &consumed, ASN1_DECODE_FLAG_STRICT_DER, desc);
    if (rc != ASN1_SUCCESS) {
        /* libtasn1 deletes the structure on failure (and NULLs it). */
        if (d->node != NULL)
            asn1_delete_structure(&d->node);
        if (rc == ASN1_MEM_ALLOC_ERROR || rc == ASN1_MEM_ERROR)
            return asn1_fail(err, NEGOEX_ERR_NO_MEMORY, 0, field);
        if (rc == ASN1_TIME_ENCODING_ERROR)
            return asn1_fail(err, NEGOEX_ERR_DER_VALUE, 0, field);
        /* The walk above proved the TLV structure sound: what is left is a
         * tag, a missing element or a value the schema does not allow. */
        return asn1_fail(err, NEGOEX_ERR_DER_TAG, 0, field);
    }
    if ((size_t)consumed != len) {
        asn1_delete_structure(&d->node);
        return asn1_fail(err, NEGOEX_ERR_DER_TRAILING, (size_t)consumed, field);
    }
    return NEGOEX_OK;
}

void asn1_dec_free(asn1_dec *d)
{
    if (d->node != NULL)
        asn1_delete_structure(&d->node);
}

/* ------------------------------------------------------------------------ */
/* Readers                                                                   */
/* ------------------------------------------------------------------------ */

const char *asn1_path(char out[ASN1_PATH_MAX], const char *prefix, const char *name)
{
    int n = prefix[0] ? snprintf(out, ASN1_PATH_MAX, "%s.%s", prefix, name)
                      : snprintf(out, ASN1_PATH_MAX, "%s", name);
    if (n < 0 || n >= ASN1_PATH_MAX)
        strcpy(out, "!"); /* no element has this name ("" would be the root) */
    return out;
}

const char *asn1_pathf(char out[ASN1_PATH_MAX], const char *prefix, const char *name, size_t index)
{
    int n;
    if (name[0])
        n = prefix[0] ? snprintf(out, ASN1_PATH_MAX, "%s.%s.?%zu", prefix, name, index)
                      : snprintf(out, ASN1_PATH_MAX, "%s.?%zu", name, index);
    else
        n = prefix[0] ? snprintf(out, ASN1_PATH_MAX, "%s.?%zu", prefix, index)
                      : snprintf(out, ASN1_PATH_MAX, "?%zu", index);
    if (n < 0 || n >= ASN1_PATH_MAX)
        strcpy(out, "!");
    return out;
}

int asn1_span(const asn1_dec *d, const char *path, size_t *start, size_t *end)
{
    if (d->node == NULL)
        return ASN1_ABSENT;
    if (path[0] == '\0') { /* the value itself */
        *start = 0;
        *end = d->len;
        return NEGOEX_OK;
    }
    int s = 0, e = 0;
    /* No buffer: libtasn1 then never re-decodes, it answers from the spans
     * it recorded while decoding. Absent OPTIONAL elements were deleted. */
    int rc = asn1_der_decoding_startEnd(d->node, NULL, 0, path, &s, &e);
    if (rc != ASN1_SUCCESS || s < 0 || e < s || (size_t)e >= d->len)
        return ASN1_ABSENT;
    *start = (size_t)s;
    *end = (size_t)e + 1;
    return NEGOEX_OK;
}

/* Header of a TLV already proven canonical by the walk. */
static int tlv_at(const asn1_dec *d, size_t at, size_t end, der_hdr *h)
{
    return der_header(d->buf, at, end, NULL, NULL, h);
}

int asn1_tlv(asn1_dec *d, const char *path, unsigned explicit_tags, const char *field, negoex_bytes *out)
{
    size_t start, end;
    if (asn1_span(d, path, &start, &end) != NEGOEX_OK)
        return ASN1_ABSENT;
    for (unsigned i = 0; i < explicit_tags; i++) {
        der_hdr h;
        if (tlv_at(d, start, end, &h) != NEGOEX_OK || !(h.first & 0x20u) || start + h.hdr + h.len != end)
            return asn1_fail(d->err, NEGOEX_ERR_DER_VALUE, start, field);
        start += h.hdr;
    }
    der_hdr h;
    if (tlv_at(d, start, end, &h) != NEGOEX_OK || start + h.hdr + h.len != end)
        return asn1_fail(d->err, NEGOEX_ERR_DER_VALUE, start, field);
    out->data = d->buf + start;
    out->len = end - start;
    return NEGOEX_OK;
}

int asn1_prim(asn1_dec *d, const char *path, uint8_t tag, const char *field, negoex_bytes *out)
{
    size_t start, end;
    if (asn1_span(d, path, &start, &end) != NEGOEX_OK)
        return ASN1_ABSENT;
    size_t at = start;
    for (;;) {
        der_hdr h;
        if (tlv_at(d, at, end, &h) != NEGOEX_OK || at + h.hdr + h.len != end)
            return asn1_fail(d->err, NEGOEX_ERR_DER_VALUE, at, field);
        if (h.first == tag) {
            out->data = d->buf + at + h.hdr;
            out->len = h.len;
            return NEGOEX_OK;
        }
        /* Explicit tags wrap exactly one TLV; anything else is not ours. */
        if (!(h.first & 0x20u))
            return asn1_fail(d->err, NEGOEX_ERR_DER_VALUE, at, field);
        at += h.hdr;
    }
}

int asn1_count(asn1_dec *d, const char *path, size_t min, size_t max, const char *field, size_t *out)
{
    size_t start, end;
    if (asn1_span(d, path, &start, &end) != NEGOEX_OK)
        return ASN1_ABSENT;
    int n = 0;
    if (asn1_number_of_elements(d->node, path, &n) != ASN1_SUCCESS)
        n = 0; /* an empty list has no children to count */
    if ((size_t)n < min)
        return asn1_fail(d->err, NEGOEX_ERR_DER_VALUE, start, field);
    if ((size_t)n > max)
        return asn1_fail(d->err, NEGOEX_ERR_TOO_LARGE, start, field);
    *out = (size_t)n;
    return NEGOEX_OK;
}

int asn1_required(asn1_dec *d, int rc, const char *field)
{
    /* libtasn1 accepted the value without a mandatory element: impossible,
     * but never read through it. */
    return rc == ASN1_ABSENT ? asn1_fail(d->err, NEGOEX_ERR_DER_TAG, 0, field) : rc;
}

size_t asn1_tlv_offset(const asn1_dec *d, negoex_bytes content)
{
    /* One tag octet (every universal type here) and the minimal length. */
    size_t hdr = 2;
    for (size_t v = content.len; v >= 0x80; v >>= 8)
        hdr++;
    return (size_t)(content.data - d->buf) - hdr;
}

int asn1_int64(asn1_dec *d, const char *path, int64_t min, int64_t max, const char *field, int64_t *out)
{
    negoex_bytes c;
    int rc = asn1_prim(d, path, NX_TAG_INTEGER, field, &c);
    if (rc != NEGOEX_OK)
        return rc;
    size_t at = asn1_tlv_offset(d, c);
    if (c.len == 0 || c.len > 8)
        return asn1_fail(d->err, NEGOEX_ERR_DER_VALUE, at, field);
    uint64_t v = (c.data[0] & 0x80) ? UINT64_MAX : 0;
    for (size_t i = 0; i < c.len; i++)
        v = v << 8 | c.data[i];
    int64_t s = (int64_t)v;
    if (s < min || s > max)
        return asn1_fail(d->err, NEGOEX_ERR_DER_VALUE, at, field);
    *out = s;
    return NEGOEX_OK;
}

int asn1_int32(asn1_dec *d, const char *path, const char *field, int32_t *out)
{
    int64_t v;
    int rc = asn1_int64(d, path, INT32_MIN, INT32_MAX, field, &v);
    if (rc == NEGOEX_OK)
        *out = (int32_t)v;
    return rc;
}

int asn1_uint32(asn1_dec *d, const char *path, const char *field, uint32_t *out)
{
    int64_t v;
    int rc = asn1_int64(d, path, 0, UINT32_MAX, field, &v);
    if (rc == NEGOEX_OK)
        *out = (uint32_t)v;
    return rc;
}

int asn1_usec(asn1_dec *d, const char *path, const char *field, uint32_t *out)
{
    int64_t v;
    int rc = asn1_int64(d, path, 0, 999999, field, &v);
    if (rc == NEGOEX_OK)
        *out = (uint32_t)v;
    return rc;
}

int asn1_expect_int(asn1_dec *d, const char *path, int64_t want, const char *field)
{
    int64_t v;
    return asn1_required(d, asn1_int64(d, path, want, want, field, &v), field);
}

static int two_digits(const uint8_t *p, int *v)
{
    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
        return 0;
    *v = (p[0] - '0') * 10 + (p[1] - '0');
    return 1;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* YYYYMMDDHHMMSSZ with a real date; the fields into f[6]. */
static int ktime_fields(negoex_bytes t, int f[6])
{
    if (t.data == NULL || t.len != 15 || t.data[14] != 'Z')
        return 0;
    int hi, lo;
    if (!two_digits(t.data, &hi) || !two_digits(t.data + 2, &lo))
        return 0;
    f[0] = hi * 100 + lo;
    for (int i = 1; i < 6; i++)
        if (!two_digits(t.data + 2 + 2 * i, &f[i]))
            return 0;
    if (f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > days_in_month(f[0], f[1]) || f[3] > 23 || f[4] > 59 ||
        f[5] > 60)
        return 0;
    return 1;
}

int64_t negoex_unix_of_civil(int64_t year, int month, int day, int hour, int minute, int second)
{
    /* Days from 1970-01-01 of a proleptic Gregorian date (era method). */
    int64_t y = year - (month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t mp = (month + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    return days * 86400 + (int64_t)hour * 3600 + minute * 60 + second;
}

int negoex_krb_time_to_unix(negoex_bytes t, int64_t *out)
{
    int f[6];
    if (out == NULL || !ktime_fields(t, f))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *out = negoex_unix_of_civil(f[0], f[1], f[2], f[3], f[4], f[5]);
    return NEGOEX_OK;
}

int asn1_ktime(asn1_dec *d, const char *path, const char *field, negoex_bytes *out)
{
    negoex_bytes c;
    int rc = asn1_prim(d, path, NX_TAG_GENERALIZED_TIME, field, &c);
    if (rc != NEGOEX_OK)
        return rc;
    int f[6];
    if (!ktime_fields(c, f))
        return asn1_fail(d->err, NEGOEX_ERR_DER_VALUE, asn1_tlv_offset(d, c), field);
    *out = c;
    return NEGOEX_OK;
}

int asn1_kflags(asn1_dec *d, const char *path, const char *field, uint32_t *out)
{
    negoex_bytes c;
    int rc = asn1_prim(d, path, NX_TAG_BIT_STRING, field, &c);
    if (rc != NEGOEX_OK)
        return rc;
    /* RFC 4120 5.2.8: at least 32 bits are sent. */
    if (c.len < 5 || (c.len - 1) * 8 - c.data[0] < 32)
        return asn1_fail(d->err, NEGOEX_ERR_DER_VALUE, asn1_tlv_offset(d, c), field);
    *out = (uint32_t)c.data[1] << 24 | (uint32_t)c.data[2] << 16 | (uint32_t)c.data[3] << 8 | c.data[4];
    return NEGOEX_OK;
}

int asn1_bits(asn1_dec *d, const char *path, const char *field, negoex_bytes *out)
{
    negoex_bytes c;
    int rc = asn1_prim(d, path, NX_TAG_BIT_STRING, field, &c);
    if (rc != NEGOEX_OK)
        return rc;
    if (c.data[0] != 0)
        return asn1_fail(d->err, NEGOEX_ERR_DER_VALUE, asn1_tlv_offset(d, c), field);
    out->data = c.data + 1;
    out->len = c.len - 1;
    return NEGOEX_OK;
}

int asn1_unsigned_magnitude(negoex_bytes content, size_t offset, const char *field, negoex_error_info *err,
                            negoex_bytes *out)
{
    if (content.len == 0 || (content.data[0] & 0x80))
        return asn1_fail(err, NEGOEX_ERR_DER_VALUE, offset, field);
    if (content.len > 1 && content.data[0] == 0) {
        content.data++;
        content.len--;
    }
    *out = content;
    return NEGOEX_OK;
}

int asn1_choice(asn1_dec *d, const char *path, char *out, size_t cap, const char *field)
{
    /* libtasn1 answers with the alternative's name and its NUL. */
    int len = (int)cap;
    if (cap == 0 || cap > INT_MAX || asn1_read_value(d->node, path, out, &len) != ASN1_SUCCESS) {
        size_t start = 0, end;
        (void)asn1_span(d, path, &start, &end);
        return asn1_fail(d->err, NEGOEX_ERR_DER_TAG, start, field);
    }
    out[cap - 1] = '\0';
    return NEGOEX_OK;
}

/* ------------------------------------------------------------------------ */
/* Decoder frame                                                             */
/* ------------------------------------------------------------------------ */

int asn1_decode_with(enum asn1_module module, const char *type, const char *field, const uint8_t *der, size_t len,
                     void *out, size_t out_size, asn1_reader_fn read, int arg, negoex_error_info *err)
{
    if (out == NULL)
        return asn1_fail(err, NEGOEX_ERR_INVALID_ARGUMENT, 0, field);
    memset(out, 0, out_size);
    asn1_dec d;
    int rc = asn1_dec_init(&d, module, type, der, len, field, err);
    if (rc == NEGOEX_OK) {
        rc = read(&d, out, arg);
        asn1_dec_free(&d);
    }
    if (rc != NEGOEX_OK)
        memset(out, 0, out_size);
    return rc;
}

int asn1_nested(asn1_dec *d, negoex_bytes view, int rc, const negoex_error_info *inner)
{
    if (rc == NEGOEX_OK)
        return rc;
    return asn1_fail(d->err, rc, (size_t)(view.data - d->buf) + inner->offset, inner->field);
}

int asn1_child_tags(const uint8_t *buf, size_t len, uint8_t *tags, size_t max, size_t *n, const char *field,
                    negoex_error_info *err)
{
    if (buf == NULL && len != 0)
        return asn1_fail(err, NEGOEX_ERR_INVALID_ARGUMENT, 0, field);
    int rc = asn1_der_check(buf, len, field, err);
    if (rc != NEGOEX_OK)
        return rc;
    der_hdr h;
    (void)der_header(buf, 0, len, NULL, NULL, &h);
    size_t pos = h.hdr;
    *n = 0;
    while (pos < len) {
        if (*n < max)
            tags[*n] = buf[pos];
        (*n)++;
        (void)der_header(buf, pos, len, NULL, NULL, &h);
        pos += h.hdr + h.len;
    }
    return NEGOEX_OK;
}
