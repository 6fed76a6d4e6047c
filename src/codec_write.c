/* NEGOEX builders: Windows layout, caller memory, size query with out == NULL.
 * Sizes are computed first so nothing is written when the buffer is short. */
#include <negoex/negoex.h>

#include <string.h>

#include "bytes.h"

/* Accumulates a message size in 64 bits so that overflow is a plain compare. */
static int size_ok(uint64_t total, size_t *out_len)
{
    if (total > UINT32_MAX)
        return NEGOEX_ERR_TOO_LARGE;
    *out_len = (size_t)total;
    return NEGOEX_OK;
}

static int check_room(uint8_t *out, size_t cap, size_t need)
{
    if (out == NULL)
        return 1; /* size query */
    if (cap < need)
        return NEGOEX_ERR_BUFFER_TOO_SMALL;
    return 0;
}

static void put_header(uint8_t *m, uint32_t type, const negoex_header_fields *hdr, uint32_t hdr_len,
                       uint32_t msg_len)
{
    memset(m, 0, hdr_len); /* pad bytes are written as zero */
    memcpy(m, NEGOEX_SIGNATURE, 8);
    negoex_put32(m + 8, type);
    negoex_put32(m + 12, hdr->seq);
    negoex_put32(m + 16, hdr_len);
    negoex_put32(m + 20, msg_len);
    memcpy(m + 24, hdr->conversation_id.bytes, 16);
}

/* A vector field: empty vectors get offset 0, as Windows writes them. */
static void put_vector32(uint8_t *p, uint32_t off, uint32_t count)
{
    negoex_put32(p, count ? off : 0);
    negoex_put32(p + 4, count);
}

static void put_vector16(uint8_t *p, uint32_t off, uint16_t count)
{
    negoex_put32(p, count ? off : 0);
    negoex_put16(p + 4, count);
    negoex_put16(p + 6, 0);
}

/* Extension sources: an array given by the caller, or a parsed message. */
typedef int (*ext_getter)(const void *src, size_t i, negoex_extension *out);

static int ext_from_array(const void *src, size_t i, negoex_extension *out)
{
    *out = ((const negoex_extension *)src)[i];
    return NEGOEX_OK;
}

static int ext_from_message(const void *src, size_t i, negoex_extension *out)
{
    return negoex_nego_extension(src, i, out);
}

static int write_nego(uint8_t *out, size_t cap, size_t *out_len, uint32_t type, const negoex_header_fields *hdr,
                      const uint8_t *random, const uint8_t *schemes, size_t scheme_count, ext_getter get_ext,
                      const void *ext_src, size_t ext_count)
{
    if (out_len == NULL || hdr == NULL || random == NULL || (scheme_count && schemes == NULL) ||
        (ext_count && ext_src == NULL))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (negoex_message_structure(type) != NEGOEX_STRUCT_NEGO)
        return NEGOEX_ERR_WRONG_TYPE;
    if (scheme_count > UINT16_MAX || ext_count > UINT16_MAX)
        return NEGOEX_ERR_TOO_LARGE;

    uint64_t total = NEGOEX_NEGO_HEADER_LEN + (uint64_t)scheme_count * NEGOEX_AUTH_SCHEME_LEN;
    uint64_t ext_array = total;
    total += (uint64_t)ext_count * NEGOEX_EXTENSION_LEN;
    for (size_t i = 0; i < ext_count; i++) {
        negoex_extension e;
        int rc = get_ext(ext_src, i, &e);
        if (rc != NEGOEX_OK)
            return rc;
        if (e.value.len && e.value.data == NULL)
            return NEGOEX_ERR_INVALID_ARGUMENT;
        if (e.type & NEGOEX_EXTENSION_CRITICAL)
            return NEGOEX_ERR_INVALID_ARGUMENT; /* use .critical */
        total += e.value.len;
    }
    size_t need;
    int rc = size_ok(total, &need);
    if (rc != NEGOEX_OK)
        return rc;
    *out_len = need;
    rc = check_room(out, cap, need);
    if (rc != 0)
        return rc < 0 ? rc : NEGOEX_OK;

    put_header(out, type, hdr, NEGOEX_NEGO_HEADER_LEN, (uint32_t)need);
    memcpy(out + 40, random, NEGOEX_RANDOM_LEN);
    negoex_put64(out + 72, NEGOEX_PROTOCOL_VERSION);
    put_vector16(out + 80, NEGOEX_NEGO_HEADER_LEN, (uint16_t)scheme_count);
    put_vector16(out + 88, (uint32_t)ext_array, (uint16_t)ext_count);
    if (scheme_count)
        memcpy(out + NEGOEX_NEGO_HEADER_LEN, schemes, scheme_count * NEGOEX_AUTH_SCHEME_LEN);
    uint32_t value_at = (uint32_t)(ext_array + ext_count * NEGOEX_EXTENSION_LEN);
    for (size_t i = 0; i < ext_count; i++) {
        negoex_extension e;
        (void)get_ext(ext_src, i, &e);
        uint8_t *el = out + ext_array + i * NEGOEX_EXTENSION_LEN;
        negoex_put32(el, e.type | (e.critical ? NEGOEX_EXTENSION_CRITICAL : 0));
        put_vector32(el + 4, value_at, (uint32_t)e.value.len);
        if (e.value.len)
            memcpy(out + value_at, e.value.data, e.value.len);
        value_at += (uint32_t)e.value.len;
    }
    return NEGOEX_OK;
}

int negoex_write_nego(uint8_t *out, size_t cap, size_t *out_len, uint32_t type, const negoex_header_fields *hdr,
                      const uint8_t random[NEGOEX_RANDOM_LEN], const negoex_guid *schemes, size_t scheme_count,
                      const negoex_extension *extensions, size_t extension_count)
{
    /* negoex_guid is exactly its 16 wire bytes, so an array of them is the wire vector. */
    _Static_assert(sizeof(negoex_guid) == NEGOEX_AUTH_SCHEME_LEN, "GUID must be 16 bytes");
    return write_nego(out, cap, out_len, type, hdr, random, schemes ? schemes[0].bytes : NULL, scheme_count,
                      ext_from_array, extensions, extension_count);
}

int negoex_write_exchange(uint8_t *out, size_t cap, size_t *out_len, uint32_t type,
                          const negoex_header_fields *hdr, const negoex_guid *scheme, const uint8_t *exchange,
                          size_t exchange_len)
{
    if (out_len == NULL || hdr == NULL || scheme == NULL || (exchange_len && exchange == NULL))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (negoex_message_structure(type) != NEGOEX_STRUCT_EXCHANGE)
        return NEGOEX_ERR_WRONG_TYPE;
    size_t need;
    int rc = size_ok((uint64_t)NEGOEX_EXCHANGE_HEADER_LEN + exchange_len, &need);
    if (rc != NEGOEX_OK)
        return rc;
    *out_len = need;
    rc = check_room(out, cap, need);
    if (rc != 0)
        return rc < 0 ? rc : NEGOEX_OK;
    put_header(out, type, hdr, NEGOEX_EXCHANGE_HEADER_LEN, (uint32_t)need);
    memcpy(out + 40, scheme->bytes, 16);
    put_vector32(out + 56, NEGOEX_EXCHANGE_HEADER_LEN, (uint32_t)exchange_len);
    if (exchange_len)
        memcpy(out + NEGOEX_EXCHANGE_HEADER_LEN, exchange, exchange_len);
    return NEGOEX_OK;
}

int negoex_write_verify(uint8_t *out, size_t cap, size_t *out_len, const negoex_header_fields *hdr,
                        const negoex_guid *scheme, uint32_t checksum_type, const uint8_t *checksum,
                        size_t checksum_len)
{
    if (out_len == NULL || hdr == NULL || scheme == NULL || (checksum_len && checksum == NULL))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    size_t need;
    int rc = size_ok((uint64_t)NEGOEX_VERIFY_HEADER_LEN + checksum_len, &need);
    if (rc != NEGOEX_OK)
        return rc;
    *out_len = need;
    rc = check_room(out, cap, need);
    if (rc != 0)
        return rc < 0 ? rc : NEGOEX_OK;
    put_header(out, NEGOEX_VERIFY, hdr, NEGOEX_VERIFY_HEADER_LEN, (uint32_t)need);
    memcpy(out + 40, scheme->bytes, 16);
    negoex_put32(out + 56, NEGOEX_CHECKSUM_HEADER_LEN);
    negoex_put32(out + 60, NEGOEX_CHECKSUM_SCHEME_RFC3961);
    negoex_put32(out + 64, checksum_type);
    put_vector32(out + 68, NEGOEX_VERIFY_HEADER_LEN, (uint32_t)checksum_len);
    if (checksum_len)
        memcpy(out + NEGOEX_VERIFY_HEADER_LEN, checksum, checksum_len);
    return NEGOEX_OK;
}

typedef int (*alert_getter)(const void *src, size_t i, negoex_alert *out);

static int alert_from_array(const void *src, size_t i, negoex_alert *out)
{
    *out = ((const negoex_alert *)src)[i];
    return NEGOEX_OK;
}

static int alert_from_message(const void *src, size_t i, negoex_alert *out)
{
    return negoex_alert_get(src, i, out);
}

static int write_alert(uint8_t *out, size_t cap, size_t *out_len, const negoex_header_fields *hdr,
                       const negoex_guid *scheme, uint32_t error_code, alert_getter get, const void *src,
                       size_t count)
{
    if (out_len == NULL || hdr == NULL || scheme == NULL || (count && src == NULL))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (count > UINT16_MAX)
        return NEGOEX_ERR_TOO_LARGE;
    uint64_t total = NEGOEX_ALERT_HEADER_LEN + (uint64_t)count * NEGOEX_ALERT_LEN;
    for (size_t i = 0; i < count; i++) {
        negoex_alert a;
        int rc = get(src, i, &a);
        if (rc != NEGOEX_OK)
            return rc;
        if (a.value.len && a.value.data == NULL)
            return NEGOEX_ERR_INVALID_ARGUMENT;
        total += a.value.len;
    }
    size_t need;
    int rc = size_ok(total, &need);
    if (rc != NEGOEX_OK)
        return rc;
    *out_len = need;
    rc = check_room(out, cap, need);
    if (rc != 0)
        return rc < 0 ? rc : NEGOEX_OK;
    put_header(out, NEGOEX_ALERT, hdr, NEGOEX_ALERT_HEADER_LEN, (uint32_t)need);
    memcpy(out + 40, scheme->bytes, 16);
    negoex_put32(out + 56, error_code);
    negoex_put32(out + 60, count ? NEGOEX_ALERT_HEADER_LEN : 0);
    negoex_put16(out + 64, (uint16_t)count);
    uint32_t value_at = NEGOEX_ALERT_HEADER_LEN + (uint32_t)count * NEGOEX_ALERT_LEN;
    for (size_t i = 0; i < count; i++) {
        negoex_alert a;
        (void)get(src, i, &a);
        uint8_t *el = out + NEGOEX_ALERT_HEADER_LEN + i * NEGOEX_ALERT_LEN;
        negoex_put32(el, a.type);
        put_vector32(el + 4, value_at, (uint32_t)a.value.len);
        if (a.value.len)
            memcpy(out + value_at, a.value.data, a.value.len);
        value_at += (uint32_t)a.value.len;
    }
    return NEGOEX_OK;
}

int negoex_write_alert(uint8_t *out, size_t cap, size_t *out_len, const negoex_header_fields *hdr,
                       const negoex_guid *scheme, uint32_t error_code, const negoex_alert *alerts,
                       size_t alert_count)
{
    return write_alert(out, cap, out_len, hdr, scheme, error_code, alert_from_array, alerts, alert_count);
}

void negoex_encode_pulse(uint8_t out[NEGOEX_ALERT_PULSE_LEN], uint32_t reason)
{
    negoex_put32(out, NEGOEX_ALERT_PULSE_LEN);
    negoex_put32(out + 4, reason);
}

int negoex_write_message(uint8_t *out, size_t cap, size_t *out_len, const negoex_message *msg)
{
    if (msg == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    negoex_header_fields hdr = {msg->seq, msg->conversation_id};
    switch (negoex_message_structure(msg->type)) {
    case NEGOEX_STRUCT_NEGO:
        return write_nego(out, cap, out_len, msg->type, &hdr, msg->u.nego.random, msg->u.nego.auth_schemes,
                          msg->u.nego.auth_scheme_count, ext_from_message, msg, msg->u.nego.extension_count);
    case NEGOEX_STRUCT_EXCHANGE:
        return negoex_write_exchange(out, cap, out_len, msg->type, &hdr, &msg->u.exchange.auth_scheme,
                                     msg->u.exchange.exchange.data, msg->u.exchange.exchange.len);
    case NEGOEX_STRUCT_VERIFY:
        return negoex_write_verify(out, cap, out_len, &hdr, &msg->u.verify.auth_scheme,
                                   msg->u.verify.checksum_type, msg->u.verify.checksum.data,
                                   msg->u.verify.checksum.len);
    case NEGOEX_STRUCT_ALERT:
        return write_alert(out, cap, out_len, &hdr, &msg->u.alert.auth_scheme, msg->u.alert.error_code,
                           alert_from_message, msg, msg->u.alert.alert_count);
    default:
        return NEGOEX_ERR_WRONG_TYPE;
    }
}
