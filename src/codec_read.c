/* NEGOEX reader: validates one message completely and fills a view into the
 * caller's buffer. Every rule has its own code and reports the absolute
 * offset and wire name of the field that broke it (docs/codec-errors.md). */
#include <negoex/negoex.h>

#include <string.h>

#include "bytes.h"

#if defined(__GNUC__) || defined(__clang__)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HOT_INLINE inline __attribute__((always_inline))
#else
#define UNLIKELY(x) (x)
#define HOT_INLINE inline
#endif

static const char *const type_names[NEGOEX_MESSAGE_TYPE_COUNT] = {
    "INITIATOR_NEGO", "ACCEPTOR_NEGO", "INITIATOR_META_DATA", "ACCEPTOR_META_DATA",
    "CHALLENGE",      "AP_REQUEST",    "VERIFY",              "ALERT",
};

const char *negoex_message_type_name(uint32_t type)
{
    return type < NEGOEX_MESSAGE_TYPE_COUNT ? type_names[type] : NULL;
}

/* Structure family and the smallest cbHeaderLength that holds its fixed fields. */
static const struct {
    uint8_t structure;
    uint8_t fixed_part;
} type_info[NEGOEX_MESSAGE_TYPE_COUNT] = {
    {NEGOEX_STRUCT_NEGO, NEGOEX_NEGO_HEADER_LEN},         {NEGOEX_STRUCT_NEGO, NEGOEX_NEGO_HEADER_LEN},
    {NEGOEX_STRUCT_EXCHANGE, NEGOEX_EXCHANGE_HEADER_LEN}, {NEGOEX_STRUCT_EXCHANGE, NEGOEX_EXCHANGE_HEADER_LEN},
    {NEGOEX_STRUCT_EXCHANGE, NEGOEX_EXCHANGE_HEADER_LEN}, {NEGOEX_STRUCT_EXCHANGE, NEGOEX_EXCHANGE_HEADER_LEN},
    {NEGOEX_STRUCT_VERIFY, NEGOEX_VERIFY_HEADER_LEN},     {NEGOEX_STRUCT_ALERT, NEGOEX_ALERT_HEADER_MIN},
};

static inline negoex_structure structure_of(uint32_t type)
{
    return type < NEGOEX_MESSAGE_TYPE_COUNT ? (negoex_structure)type_info[type].structure : NEGOEX_STRUCT_NONE;
}

negoex_structure negoex_message_structure(uint32_t type)
{
    return structure_of(type);
}

/* One failed rule: keeps the code, the absolute offset and the field name. */
static int fail(negoex_error_info *err, int code, size_t offset, const char *field)
{
    if (err != NULL) {
        err->code = code;
        err->offset = offset;
        err->field = field;
    }
    return code;
}

/*
 * Checks a vector {offset, count} of width-byte elements against the message:
 * inside it (overflow-safe) and, when non-empty, not inside the header.
 * at = message-relative position of the vector's offset field.
 */
static HOT_INLINE int check_vector(uint32_t msg_len, uint32_t hdr_len, uint32_t off, uint32_t count,
                        uint32_t width, size_t base, size_t at, int code, const char *field,
                        negoex_error_info *err)
{
    if (count == 0)
        return NEGOEX_OK;
    if (UNLIKELY(off > msg_len || count > (msg_len - off) / width))
        return fail(err, code, base + at, field);
    if (UNLIKELY(off < hdr_len))
        return fail(err, NEGOEX_ERR_VECTOR_OVERLAPS_HEADER, base + at, field);
    return NEGOEX_OK;
}

static void read_guid(negoex_guid *g, const uint8_t *p)
{
    memcpy(g->bytes, p, sizeof g->bytes);
}

static int parse_nego(const uint8_t *m, negoex_message *msg, size_t base, negoex_error_info *err)
{
    uint32_t mlen = msg->message_length, hlen = msg->header_length;
    msg->u.nego.random = m + 40;
    msg->u.nego.protocol_version = negoex_le64(m + 72);
    if (UNLIKELY(msg->u.nego.protocol_version != NEGOEX_PROTOCOL_VERSION))
        return fail(err, NEGOEX_ERR_VERSION, base + 72, "ProtocolVersion");

    uint32_t soff = negoex_le32(m + 80);
    uint16_t scount = negoex_le16(m + 84);
    int rc = check_vector(mlen, hlen, soff, scount, NEGOEX_AUTH_SCHEME_LEN, base, 80,
                          NEGOEX_ERR_AUTH_SCHEME_VECTOR, "AuthSchemes", err);
    if (rc != NEGOEX_OK)
        return rc;
    /* Windows layout; MIT's packed layout reads as offset 0, count 0 here. */
    uint32_t eoff = negoex_le32(m + 88);
    uint16_t ecount = negoex_le16(m + 92);
    rc = check_vector(mlen, hlen, eoff, ecount, NEGOEX_EXTENSION_LEN, base, 88, NEGOEX_ERR_EXTENSION_VECTOR,
                      "Extensions", err);
    if (rc != NEGOEX_OK)
        return rc;
    for (uint32_t i = 0; i < ecount; i++) {
        size_t at = (size_t)eoff + (size_t)i * NEGOEX_EXTENSION_LEN;
        const uint8_t *e = m + at;
        if (UNLIKELY(negoex_le32(e) & NEGOEX_EXTENSION_CRITICAL))
            return fail(err, NEGOEX_ERR_CRITICAL_EXTENSION, base + at, "ExtensionType");
        rc = check_vector(mlen, hlen, negoex_le32(e + 4), negoex_le32(e + 8), 1, base, at + 4,
                          NEGOEX_ERR_EXTENSION_VALUE, "ExtensionValue", err);
        if (rc != NEGOEX_OK)
            return rc;
    }
    msg->u.nego.auth_scheme_count = scount;
    msg->u.nego.auth_schemes = scount ? m + soff : NULL;
    msg->u.nego.extension_count = ecount;
    msg->u.nego.extensions = ecount ? m + eoff : NULL;
    return NEGOEX_OK;
}

static int parse_exchange(const uint8_t *m, negoex_message *msg, size_t base, negoex_error_info *err)
{
    uint32_t off = negoex_le32(m + 56), len = negoex_le32(m + 60);
    int rc = check_vector(msg->message_length, msg->header_length, off, len, 1, base, 56,
                          NEGOEX_ERR_EXCHANGE_VECTOR, "Exchange", err);
    if (rc != NEGOEX_OK)
        return rc;
    read_guid(&msg->u.exchange.auth_scheme, m + 40);
    msg->u.exchange.exchange.data = len ? m + off : NULL;
    msg->u.exchange.exchange.len = len;
    return NEGOEX_OK;
}

static int parse_verify(const uint8_t *m, negoex_message *msg, size_t base, negoex_error_info *err)
{
    if (UNLIKELY(negoex_le32(m + 56) != NEGOEX_CHECKSUM_HEADER_LEN))
        return fail(err, NEGOEX_ERR_CHECKSUM_HEADER, base + 56, "Checksum.cbHeaderLength");
    if (UNLIKELY(negoex_le32(m + 60) != NEGOEX_CHECKSUM_SCHEME_RFC3961))
        return fail(err, NEGOEX_ERR_CHECKSUM_SCHEME, base + 60, "ChecksumScheme");
    uint32_t off = negoex_le32(m + 68), len = negoex_le32(m + 72);
    int rc = check_vector(msg->message_length, msg->header_length, off, len, 1, base, 68,
                          NEGOEX_ERR_CHECKSUM_VECTOR, "ChecksumValue", err);
    if (rc != NEGOEX_OK)
        return rc;
    read_guid(&msg->u.verify.auth_scheme, m + 40);
    msg->u.verify.checksum_scheme = NEGOEX_CHECKSUM_SCHEME_RFC3961;
    msg->u.verify.checksum_type = negoex_le32(m + 64);
    msg->u.verify.checksum.data = len ? m + off : NULL;
    msg->u.verify.checksum.len = len;
    return NEGOEX_OK;
}

static int parse_alert(const uint8_t *m, negoex_message *msg, size_t base, negoex_error_info *err)
{
    uint32_t mlen = msg->message_length, hlen = msg->header_length;
    uint32_t aoff = negoex_le32(m + 60);
    uint16_t acount = negoex_le16(m + 64);
    int rc = check_vector(mlen, hlen, aoff, acount, NEGOEX_ALERT_LEN, base, 60, NEGOEX_ERR_ALERT_VECTOR,
                          "Alerts", err);
    if (rc != NEGOEX_OK)
        return rc;
    for (uint32_t i = 0; i < acount; i++) {
        size_t at = (size_t)aoff + (size_t)i * NEGOEX_ALERT_LEN;
        const uint8_t *a = m + at;
        uint32_t voff = negoex_le32(a + 4), vlen = negoex_le32(a + 8);
        rc = check_vector(mlen, hlen, voff, vlen, 1, base, at + 4, NEGOEX_ERR_ALERT_VALUE, "AlertValue", err);
        if (rc != NEGOEX_OK)
            return rc;
        if (negoex_le32(a) == NEGOEX_ALERT_TYPE_PULSE) {
            uint32_t plen = vlen >= 4 ? negoex_le32(m + voff) : 0;
            if (UNLIKELY(vlen < NEGOEX_ALERT_PULSE_LEN || plen < NEGOEX_ALERT_PULSE_LEN || plen > vlen))
                return fail(err, NEGOEX_ERR_ALERT_PULSE, base + (vlen ? voff : at + 4), "AlertPulse");
        }
    }
    read_guid(&msg->u.alert.auth_scheme, m + 40);
    msg->u.alert.error_code = negoex_le32(m + 56);
    msg->u.alert.alert_count = acount;
    msg->u.alert.alerts = acount ? m + aoff : NULL;
    return NEGOEX_OK;
}

/* Fills *msg directly (it is scratch until the call returns 0). */
static HOT_INLINE int parse_at(const uint8_t *token, size_t token_len, size_t offset, negoex_message *msg,
                    negoex_error_info *err)
{
    const uint8_t *m = token + offset;
    size_t left = token_len - offset;
    if (UNLIKELY(left < NEGOEX_MESSAGE_HEADER_LEN))
        return fail(err, NEGOEX_ERR_TRUNCATED_HEADER, offset, "MessageHeader");
    if (UNLIKELY(negoex_le64(m) != NEGOEX_SIGNATURE_U64))
        return fail(err, NEGOEX_ERR_BAD_SIGNATURE, offset, "Signature");

    msg->type = negoex_le32(m + 8);
    msg->seq = negoex_le32(m + 12);
    msg->header_length = negoex_le32(m + 16);
    msg->message_length = negoex_le32(m + 20);
    read_guid(&msg->conversation_id, m + 24);
    msg->offset = offset;

    negoex_structure s = structure_of(msg->type);
    if (UNLIKELY(s == NEGOEX_STRUCT_NONE))
        return fail(err, NEGOEX_ERR_UNKNOWN_TYPE, offset + 8, "MessageType");
    if (UNLIKELY(msg->header_length < NEGOEX_MESSAGE_HEADER_LEN))
        return fail(err, NEGOEX_ERR_HEADER_LENGTH, offset + 16, "cbHeaderLength");
    if (UNLIKELY(msg->message_length < msg->header_length))
        return fail(err, NEGOEX_ERR_MESSAGE_LENGTH, offset + 20, "cbMessageLength");
    if (UNLIKELY(msg->message_length > left))
        return fail(err, NEGOEX_ERR_MESSAGE_TRUNCATED, offset + 20, "cbMessageLength");
    if (UNLIKELY(msg->header_length < type_info[msg->type].fixed_part))
        return fail(err, NEGOEX_ERR_FIXED_PART, offset + 16, "cbHeaderLength");
    msg->raw.data = m;
    msg->raw.len = msg->message_length;

    switch (s) {
    case NEGOEX_STRUCT_NEGO:
        return parse_nego(m, msg, offset, err);
    case NEGOEX_STRUCT_EXCHANGE:
        return parse_exchange(m, msg, offset, err);
    case NEGOEX_STRUCT_VERIFY:
        return parse_verify(m, msg, offset, err);
    default:
        return parse_alert(m, msg, offset, err);
    }
}

int negoex_parse_message(const uint8_t *token, size_t token_len, size_t offset, negoex_message *out,
                         negoex_error_info *err)
{
    if (UNLIKELY(token == NULL || out == NULL || offset > token_len))
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, offset, "token");
    return parse_at(token, token_len, offset, out, err);
}

void negoex_reader_init(negoex_reader *r, const uint8_t *token, size_t len)
{
    r->token = token;
    r->len = len;
    r->pos = 0;
    r->error.code = NEGOEX_OK;
    r->error.offset = 0;
    r->error.field = NULL;
}

int negoex_reader_next(negoex_reader *r, negoex_message *msg)
{
    if (r->error.code != NEGOEX_OK)
        return r->error.code;
    if (r->pos == r->len)
        return 0;
    if (msg == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    int rc = parse_at(r->token, r->len, r->pos, msg, &r->error);
    if (rc != NEGOEX_OK)
        return rc;
    r->pos += msg->message_length;
    return 1;
}

int negoex_token_validate(const uint8_t *token, size_t len, negoex_error_info *err)
{
    if (UNLIKELY(len == 0))
        return fail(err, NEGOEX_ERR_EMPTY_TOKEN, 0, "token");
    negoex_reader r;
    negoex_message msg;
    negoex_reader_init(&r, token, len);
    int count = 0, rc;
    while ((rc = negoex_reader_next(&r, &msg)) == 1) {
        if (UNLIKELY(count == INT32_MAX))
            return fail(err, NEGOEX_ERR_TOO_LARGE, r.pos, "token");
        count++;
    }
    if (rc < 0) {
        if (err != NULL)
            *err = r.error;
        return rc;
    }
    return count;
}

int negoex_nego_auth_scheme(const negoex_message *msg, size_t index, negoex_guid *out)
{
    if (msg == NULL || out == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (structure_of(msg->type) != NEGOEX_STRUCT_NEGO)
        return NEGOEX_ERR_WRONG_TYPE;
    if (index >= msg->u.nego.auth_scheme_count)
        return NEGOEX_ERR_INDEX_RANGE;
    read_guid(out, msg->u.nego.auth_schemes + index * NEGOEX_AUTH_SCHEME_LEN);
    return NEGOEX_OK;
}

int negoex_nego_extension(const negoex_message *msg, size_t index, negoex_extension *out)
{
    if (msg == NULL || out == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (structure_of(msg->type) != NEGOEX_STRUCT_NEGO)
        return NEGOEX_ERR_WRONG_TYPE;
    if (index >= msg->u.nego.extension_count)
        return NEGOEX_ERR_INDEX_RANGE;
    const uint8_t *e = msg->u.nego.extensions + index * NEGOEX_EXTENSION_LEN;
    uint32_t type = negoex_le32(e), len = negoex_le32(e + 8);
    out->type = type & ~NEGOEX_EXTENSION_CRITICAL;
    out->critical = (type & NEGOEX_EXTENSION_CRITICAL) != 0;
    out->value.data = len ? msg->raw.data + negoex_le32(e + 4) : NULL;
    out->value.len = len;
    return NEGOEX_OK;
}

int negoex_alert_get(const negoex_message *msg, size_t index, negoex_alert *out)
{
    if (msg == NULL || out == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (msg->type != NEGOEX_ALERT)
        return NEGOEX_ERR_WRONG_TYPE;
    if (index >= msg->u.alert.alert_count)
        return NEGOEX_ERR_INDEX_RANGE;
    const uint8_t *a = msg->u.alert.alerts + index * NEGOEX_ALERT_LEN;
    uint32_t len = negoex_le32(a + 8);
    out->type = negoex_le32(a);
    out->value.data = len ? msg->raw.data + negoex_le32(a + 4) : NULL;
    out->value.len = len;
    out->is_pulse = out->type == NEGOEX_ALERT_TYPE_PULSE;
    out->reason = out->is_pulse ? negoex_le32(out->value.data + 4) : 0;
    return NEGOEX_OK;
}

int negoex_message_auth_scheme(const negoex_message *msg, negoex_guid *out)
{
    if (msg == NULL || out == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    switch (structure_of(msg->type)) {
    case NEGOEX_STRUCT_EXCHANGE:
        *out = msg->u.exchange.auth_scheme;
        return NEGOEX_OK;
    case NEGOEX_STRUCT_VERIFY:
        *out = msg->u.verify.auth_scheme;
        return NEGOEX_OK;
    case NEGOEX_STRUCT_ALERT:
        *out = msg->u.alert.auth_scheme;
        return NEGOEX_OK;
    default:
        return NEGOEX_ERR_WRONG_TYPE;
    }
}
