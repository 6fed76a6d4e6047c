/* OBJECT IDENTIFIERs as DER content octets: validity, dotted text, names of
 * well-known mechanisms, and the dotted-text encoder (scheme_test.h). */
#include <negoex/scheme_test.h>
#include <negoex/spnego.h>

#include <string.h>

const uint8_t NEGOEX_SPNEGO_OID_DER[NEGOEX_SPNEGO_OID_DER_LEN] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x02};
/* MS-SPNG 3.1.5.3 */
const uint8_t NEGOEX_SPNEGO_IAKERB_OID_DER[NEGOEX_SPNEGO_IAKERB_OID_DER_LEN] = {0x2b, 0x06, 0x01, 0x05, 0x02, 0x05};
/* MS-SPNG 3.1.5.4 */
const uint8_t NEGOEX_SPNEGO_LATE_FALLBACK_OID_DER[NEGOEX_SPNEGO_LATE_FALLBACK_OID_DER_LEN] = {
    0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x28};

/* ------------------------------------------------------------------------ */
/* Validity and text                                                          */
/* ------------------------------------------------------------------------ */

int negoex_oid_valid(const uint8_t *der, size_t len)
{
    if (der == NULL || len == 0)
        return 0;
    /* The last octet must end a subidentifier. */
    if (der[len - 1] & 0x80)
        return 0;
    /* A subidentifier may not start with 0x80 (a leading zero group). */
    int at_start = 1;
    for (size_t i = 0; i < len; i++) {
        if (at_start && der[i] == 0x80)
            return 0;
        at_start = (der[i] & 0x80) == 0;
    }
    return 1;
}

/* Writes v in decimal at out (if not NULL); returns the digit count. */
static size_t put_decimal(uint64_t v, char *out)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    if (out != NULL) {
        for (size_t i = 0; i < n; i++)
            out[i] = tmp[n - 1 - i];
    }
    return n;
}

/* One pass over a valid encoding: the text length (without NUL), writing it
 * when out is not NULL. -1 if a subidentifier does not fit 64 bits. */
static int oid_text_walk(const uint8_t *der, size_t len, char *out, size_t *text_len)
{
    size_t n = 0, i = 0;
    int first = 1;
    while (i < len) {
        uint64_t v = 0;
        for (;;) {
            if (v > (UINT64_MAX >> 7))
                return -1;
            v = v << 7 | (der[i] & 0x7fu);
            if ((der[i++] & 0x80) == 0)
                break;
        }
        if (first) {
            /* X.690 8.19.4: the first subidentifier packs the first two arcs. */
            unsigned a = v < 40 ? 0 : v < 80 ? 1 : 2;
            uint64_t b = v - 40u * a;
            if (out != NULL) {
                out[n] = (char)('0' + a);
                out[n + 1] = '.';
            }
            n += 2;
            n += put_decimal(b, out != NULL ? out + n : NULL);
            first = 0;
        } else {
            if (out != NULL)
                out[n] = '.';
            n++;
            n += put_decimal(v, out != NULL ? out + n : NULL);
        }
    }
    *text_len = n;
    return 0;
}

int negoex_oid_to_text(const uint8_t *der, size_t len, char *out, size_t cap, size_t *need)
{
    if (der == NULL && len != 0)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (!negoex_oid_valid(der, len))
        return NEGOEX_ERR_DER_VALUE;
    size_t text_len = 0;
    if (oid_text_walk(der, len, NULL, &text_len) != 0)
        return NEGOEX_ERR_DER_VALUE;
    if (need != NULL)
        *need = text_len + 1;
    /* Sized first: nothing is written when the buffer is short. */
    if (out == NULL || cap < text_len + 1)
        return NEGOEX_ERR_BUFFER_TOO_SMALL;
    (void)oid_text_walk(der, len, out, &text_len);
    out[text_len] = '\0';
    return NEGOEX_OK;
}

/* ------------------------------------------------------------------------ */
/* Names                                                                      */
/* ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    uint8_t len;
    uint8_t der[10];
} known_oids[] = {
    {"NEGOEX", 10, {0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x1e}},      /* 1.3.6.1.4.1.311.2.2.30 */
    {"NTLM", 10, {0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a}},        /* 1.3.6.1.4.1.311.2.2.10 */
    {"Kerberos", 9, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02}},           /* 1.2.840.113554.1.2.2 */
    {"MS-Kerberos", 9, {0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02}},        /* 1.2.840.48018.1.2.2 */
    {"Kerberos-U2U", 10, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x03}}, /* 1.2.840.113554.1.2.2.3 */
    {"IAKerb", 6, {0x2b, 0x06, 0x01, 0x05, 0x02, 0x05}},                               /* 1.3.6.1.5.2.5, MS-SPNG 3.1.5.3 */
    {"PKU2U", 6, {0x2b, 0x06, 0x01, 0x05, 0x02, 0x07}},                                /* 1.3.6.1.5.2.7 */
    {"SPNEGO", 6, {0x2b, 0x06, 0x01, 0x05, 0x05, 0x02}},                               /* 1.3.6.1.5.5.2 */
    {"Negotiate-Late-Fallback", 10,
     {0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x28}},                    /* 1.3.6.1.4.1.311.2.2.40, MS-SPNG 3.1.5.4 */
    {"test-mech-1", 6, {0x69, 0x85, 0xa2, 0xc0, 0xac, 0x66}},                          /* 2.25.1414534758 */
    {"test-mech-2", 6, {0x69, 0x84, 0xb0, 0xd1, 0xa8, 0x2c}},                          /* 2.25.1175737388 */
    {"nxtoy", 6, {0x69, 0x81, 0x91, 0xd1, 0xac, 0x78}},                                /* 2.25.305419896 */
};

const char *negoex_oid_name(const uint8_t *der, size_t len)
{
    if (der == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof known_oids / sizeof known_oids[0]; i++) {
        if (known_oids[i].len == len && memcmp(known_oids[i].der, der, len) == 0)
            return known_oids[i].name;
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Dotted text to DER content octets                                          */
/* ------------------------------------------------------------------------ */

/* One decimal arc: digits only, no leading zero (non-canonical text), must fit
 * 64 bits. Advances *p past the digits. */
static int parse_arc(const char **p, uint64_t *value)
{
    const char *s = *p;
    uint64_t v = 0;
    if (*s < '0' || *s > '9')
        return -1;
    if (s[0] == '0' && s[1] >= '0' && s[1] <= '9')
        return -1;
    while (*s >= '0' && *s <= '9') {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        s++;
    }
    *p = s;
    *value = v;
    return 0;
}

static size_t base128_len(uint64_t v)
{
    size_t n = 1;
    while (v >>= 7)
        n++;
    return n;
}

static void base128_put(uint64_t v, uint8_t *out)
{
    size_t n = base128_len(v);
    for (size_t i = n; i-- > 0;) {
        out[i] = (uint8_t)((v & 0x7f) | (i + 1 < n ? 0x80 : 0));
        v >>= 7;
    }
}

/* Walks the text once; writes only when out is not NULL (the caller has
 * already checked the size on a first walk). */
static int oid_walk(const char *dotted, uint8_t *out, size_t *len)
{
    const char *p = dotted;
    uint64_t first, second;
    size_t n = 0;

    if (parse_arc(&p, &first) != 0 || *p++ != '.')
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (parse_arc(&p, &second) != 0)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (first > 2 || (first < 2 && second > 39) || second > UINT64_MAX - 80)
        return NEGOEX_ERR_INVALID_ARGUMENT;

    uint64_t arc = first * 40 + second;
    for (;;) {
        if (out != NULL)
            base128_put(arc, out + n);
        n += base128_len(arc);
        if (*p == '\0')
            break;
        if (*p++ != '.' || parse_arc(&p, &arc) != 0)
            return NEGOEX_ERR_INVALID_ARGUMENT;
    }
    *len = n;
    return NEGOEX_OK;
}

int negoex_oid_encode(const char *dotted, uint8_t *out, size_t cap, size_t *len)
{
    size_t need = 0;
    if (dotted == NULL || len == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    int rc = oid_walk(dotted, NULL, &need);
    if (rc != 0)
        return rc;
    *len = need;
    if (out == NULL) /* size query, as the codec's builders do */
        return NEGOEX_OK;
    if (cap < need)
        return NEGOEX_ERR_BUFFER_TOO_SMALL;
    return oid_walk(dotted, out, &need);
}
