/* libFuzzer target for the codec: any bytes must parse or fail cleanly, and
 * whatever parses must rebuild into a message that parses to the same view. */
#include <negoex/negoex.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void check_message(const negoex_message *m)
{
    CHECK(m->raw.len == m->message_length && m->header_length <= m->message_length);
    negoex_guid g;
    negoex_extension e;
    negoex_alert a;
    switch (negoex_message_structure(m->type)) {
    case NEGOEX_STRUCT_NEGO:
        for (size_t i = 0; i < m->u.nego.auth_scheme_count; i++)
            CHECK(negoex_nego_auth_scheme(m, i, &g) == NEGOEX_OK);
        for (size_t i = 0; i < m->u.nego.extension_count; i++) {
            CHECK(negoex_nego_extension(m, i, &e) == NEGOEX_OK);
            CHECK(!e.critical);
            CHECK(e.value.len == 0 || (e.value.data >= m->raw.data &&
                                       e.value.data + e.value.len <= m->raw.data + m->raw.len));
        }
        CHECK(negoex_message_auth_scheme(m, &g) == NEGOEX_ERR_WRONG_TYPE);
        break;
    case NEGOEX_STRUCT_ALERT:
        for (size_t i = 0; i < m->u.alert.alert_count; i++) {
            CHECK(negoex_alert_get(m, i, &a) == NEGOEX_OK);
            CHECK(a.value.len == 0 || a.value.data + a.value.len <= m->raw.data + m->raw.len);
        }
        /* fall through */
    default:
        CHECK(negoex_message_auth_scheme(m, &g) == NEGOEX_OK);
        break;
    }

    size_t need = 0;
    CHECK(negoex_write_message(NULL, 0, &need, m) == NEGOEX_OK);
    uint8_t *buf = malloc(need ? need : 1);
    CHECK(buf != NULL);
    size_t got = 0;
    CHECK(negoex_write_message(buf, need, &got, m) == NEGOEX_OK && got == need);
    negoex_message back;
    negoex_error_info err;
    CHECK(negoex_parse_message(buf, got, 0, &back, &err) == NEGOEX_OK);
    CHECK(back.type == m->type && back.seq == m->seq && back.message_length == got);
    CHECK(memcmp(&back.conversation_id, &m->conversation_id, sizeof back.conversation_id) == 0);
    /* Canonical form is a fixed point. */
    uint8_t *again = malloc(got ? got : 1);
    CHECK(again != NULL);
    size_t got2 = 0;
    CHECK(negoex_write_message(again, got, &got2, &back) == NEGOEX_OK && got2 == got);
    CHECK(memcmp(again, buf, got) == 0);
    free(again);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    negoex_reader r;
    negoex_message m;
    negoex_reader_init(&r, data, size);
    int rc, count = 0;
    while ((rc = negoex_reader_next(&r, &m)) == 1) {
        check_message(&m);
        count++;
    }
    if (rc < 0) {
        CHECK(r.error.code == rc && r.error.field != NULL && r.error.offset <= size);
        CHECK(negoex_reader_next(&r, &m) == rc); /* sticky */
    }
    negoex_error_info err;
    int v = negoex_token_validate(data, size, &err);
    CHECK(rc < 0 ? v == rc : (size == 0 ? v == NEGOEX_ERR_EMPTY_TOKEN : v == count));
    return 0;
}
