/* libFuzzer target for the SPNEGO codec: any bytes must parse or fail cleanly
 * (code, offset inside the token, field name). Whatever parses must rebuild
 * with the writer into exactly the input bytes (strict DER has one encoding
 * per value) and re-parse to the same view. */
#include <negoex/scheme_test.h>
#include <negoex/spnego.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

/* A view is absent, or lies inside [base, base + size). */
static void check_inside(const negoex_bytes *b, const uint8_t *base, size_t size)
{
    if (b->data == NULL) {
        CHECK(b->len == 0);
        return;
    }
    CHECK(b->data >= base && b->len <= size && (size_t)(b->data - base) <= size - b->len);
}

/* Same presence, offset and length in two copies of one token. */
static void check_same(const negoex_bytes *a, const uint8_t *abase, const negoex_bytes *b, const uint8_t *bbase)
{
    CHECK((a->data == NULL) == (b->data == NULL));
    CHECK(a->len == b->len);
    if (a->data != NULL)
        CHECK(a->data - abase == b->data - bbase);
}

static void check_oid(const negoex_bytes *oid)
{
    CHECK(oid->data != NULL && negoex_oid_valid(oid->data, oid->len));
    size_t need = 0;
    int rc = negoex_oid_to_text(oid->data, oid->len, NULL, 0, &need);
    if (rc == NEGOEX_ERR_DER_VALUE)
        return; /* a valid encoding with an arc beyond 64 bits */
    CHECK(rc == NEGOEX_ERR_BUFFER_TOO_SMALL && need >= 4);
    char *text = malloc(need);
    CHECK(text != NULL);
    size_t need2 = 0;
    CHECK(negoex_oid_to_text(oid->data, oid->len, text, need, &need2) == NEGOEX_OK && need2 == need);
    CHECK(strlen(text) + 1 == need);
    /* Text and encoding agree both ways. */
    uint8_t *back = malloc(oid->len);
    CHECK(back != NULL);
    size_t blen = 0;
    CHECK(negoex_oid_encode(text, back, oid->len, &blen) == NEGOEX_OK);
    CHECK(blen == oid->len && memcmp(back, oid->data, blen) == 0);
    free(back);
    free(text);
    (void)negoex_oid_name(oid->data, oid->len);
}

static void check_token(const uint8_t *data, size_t size, const negoex_spnego_token *t)
{
    int init = t->kind != NEGOEX_SPNEGO_NEG_TOKEN_RESP;
    CHECK(t->kind == NEGOEX_SPNEGO_NEG_TOKEN_INIT || t->kind == NEGOEX_SPNEGO_NEG_TOKEN_INIT2 || !init);
    check_inside(&t->mech_types, data, size);
    check_inside(&t->mech_token, data, size);
    check_inside(&t->hint_name, data, size);
    check_inside(&t->hint_address, data, size);
    check_inside(&t->supported_mech, data, size);
    check_inside(&t->response_token, data, size);
    check_inside(&t->mech_list_mic, data, size);
    CHECK(t->neg_state == NEGOEX_NEG_STATE_ABSENT || negoex_neg_state_name(t->neg_state) != NULL);

    negoex_spnego_fields f;
    negoex_spnego_fields_init(&f, t->kind);
    f.framed = t->framed;
    negoex_bytes *mechs = NULL;
    negoex_bytes oid;
    if (init) {
        CHECK(t->mech_types.data != NULL && t->mech_type_count >= 1);
        CHECK(t->neg_state == NEGOEX_NEG_STATE_ABSENT && t->supported_mech.data == NULL &&
              t->response_token.data == NULL);
        mechs = calloc(t->mech_type_count, sizeof *mechs);
        CHECK(mechs != NULL);
        for (size_t i = 0; i < t->mech_type_count; i++) {
            CHECK(negoex_spnego_mech_type(t, i, &mechs[i]) == NEGOEX_OK);
            check_inside(&mechs[i], t->mech_types.data, t->mech_types.len);
            check_oid(&mechs[i]);
        }
        CHECK(negoex_spnego_mech_type(t, t->mech_type_count, &oid) == NEGOEX_ERR_INDEX_RANGE);
        /* The MechTypeList alone is the bytes of the view. */
        size_t need = 0, got = 0;
        CHECK(negoex_spnego_write_mech_list(NULL, 0, &need, mechs, t->mech_type_count) == NEGOEX_OK);
        CHECK(need == t->mech_types.len);
        uint8_t *list = malloc(need);
        CHECK(list != NULL);
        CHECK(negoex_spnego_write_mech_list(list, need, &got, mechs, t->mech_type_count) == NEGOEX_OK);
        CHECK(got == need && memcmp(list, t->mech_types.data, need) == 0);
        free(list);
        f.mech_types = mechs;
        f.mech_type_count = t->mech_type_count;
        f.has_req_flags = t->has_req_flags;
        f.req_flags = t->req_flags;
        f.mech_token = t->mech_token;
        f.hint_name = t->hint_name;
        f.hint_address = t->hint_address;
    } else {
        CHECK(t->mech_types.data == NULL && t->mech_type_count == 0 && !t->has_req_flags);
        CHECK(t->mech_token.data == NULL && t->hint_name.data == NULL && t->hint_address.data == NULL);
        CHECK(negoex_spnego_mech_type(t, 0, &oid) == NEGOEX_ERR_WRONG_TYPE);
        if (t->supported_mech.data != NULL)
            check_oid(&t->supported_mech);
        f.neg_state = t->neg_state;
        f.supported_mech = t->supported_mech;
        f.response_token = t->response_token;
    }
    if (t->kind == NEGOEX_SPNEGO_NEG_TOKEN_INIT)
        CHECK(t->hint_name.data == NULL && t->hint_address.data == NULL);
    f.mech_list_mic = t->mech_list_mic;

    /* Late Fallback's supportedMechs [4] (NegTokenResp only): the list too
     * must come back byte for byte. */
    negoex_bytes *smechs = NULL;
    check_inside(&t->supported_mechs, data, size);
    if (t->supported_mechs.data != NULL) {
        CHECK(!init && t->supported_mech_count >= 1);
        smechs = calloc(t->supported_mech_count, sizeof *smechs);
        CHECK(smechs != NULL);
        negoex_spnego_mech_iter it;
        CHECK(negoex_spnego_mech_list_iter_init(&it, &t->supported_mechs) == NEGOEX_OK);
        for (size_t i = 0; i < t->supported_mech_count; i++) {
            CHECK(negoex_spnego_mech_iter_next(&it, &smechs[i]) == 1);
            check_oid(&smechs[i]);
        }
        CHECK(negoex_spnego_mech_iter_next(&it, &oid) == 0);
        size_t need = 0;
        CHECK(negoex_spnego_write_mech_list(NULL, 0, &need, smechs, t->supported_mech_count) == NEGOEX_OK);
        CHECK(need == t->supported_mechs.len);
        f.supported_mechs = smechs;
        f.supported_mech_count = t->supported_mech_count;
    } else {
        CHECK(t->supported_mech_count == 0);
    }

    /* Rebuilt: the same bytes. */
    size_t need = 0, got = 0;
    CHECK(negoex_spnego_write(NULL, 0, &need, &f) == NEGOEX_OK);
    CHECK(need == size);
    uint8_t *buf = malloc(need);
    CHECK(buf != NULL);
    CHECK(negoex_spnego_write(buf, need - 1, &got, &f) == NEGOEX_ERR_BUFFER_TOO_SMALL && got == need);
    CHECK(negoex_spnego_write(buf, need, &got, &f) == NEGOEX_OK && got == need);
    CHECK(memcmp(buf, data, size) == 0);

    /* And the same view from the copy. */
    negoex_spnego_token back;
    negoex_error_info err;
    CHECK(negoex_spnego_parse_ex(buf, got, NEGOEX_SPNEGO_PARSE_LATE_FALLBACK, &back, &err) == NEGOEX_OK);
    CHECK(back.supported_mech_count == t->supported_mech_count);
    check_same(&back.supported_mechs, buf, &t->supported_mechs, data);
    CHECK(back.kind == t->kind && back.framed == t->framed && back.mech_type_count == t->mech_type_count);
    CHECK(back.has_req_flags == t->has_req_flags && back.req_flags == t->req_flags);
    CHECK(back.neg_state == t->neg_state);
    check_same(&back.mech_types, buf, &t->mech_types, data);
    check_same(&back.mech_token, buf, &t->mech_token, data);
    check_same(&back.hint_name, buf, &t->hint_name, data);
    check_same(&back.hint_address, buf, &t->hint_address, data);
    check_same(&back.supported_mech, buf, &t->supported_mech, data);
    check_same(&back.response_token, buf, &t->response_token, data);
    check_same(&back.mech_list_mic, buf, &t->mech_list_mic, data);
    free(buf);
    free(mechs);
    free(smechs);
}

static void late_fallback_only(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    negoex_spnego_token t;
    negoex_error_info err = {0, 0, NULL};
    int rc = negoex_spnego_parse(data, size, &t, &err);
    if (rc != NEGOEX_OK) {
        CHECK(rc < 0 && err.code == rc && err.field != NULL && err.offset <= size);
        CHECK(rc == NEGOEX_ERR_EMPTY_TOKEN ? size == 0
                                           : (rc <= NEGOEX_ERR_DER_TRUNCATED && rc >= NEGOEX_ERR_SPNEGO_OID));
        /* Without err the same answer. */
        CHECK(negoex_spnego_parse(data, size, &t, NULL) == rc);
        late_fallback_only(data, size);
        return 0;
    }
    check_token(data, size, &t);

    /* The same bytes with Late Fallback on: a superset, the same view for
     * every other field. */
    negoex_spnego_token lf;
    CHECK(negoex_spnego_parse_ex(data, size, NEGOEX_SPNEGO_PARSE_LATE_FALLBACK, &lf, NULL) == NEGOEX_OK);
    CHECK(lf.supported_mechs.data == NULL && lf.kind == t.kind);
    return 0;
}

/* Inputs only Late Fallback accepts (a [4] in a NegTokenResp) round-trip too. */
static void late_fallback_only(const uint8_t *data, size_t size)
{
    negoex_spnego_token t;
    negoex_error_info err = {0, 0, NULL};
    int rc = negoex_spnego_parse_ex(data, size, NEGOEX_SPNEGO_PARSE_LATE_FALLBACK, &t, &err);
    if (rc != NEGOEX_OK) {
        CHECK(rc < 0 && err.code == rc && err.field != NULL && err.offset <= size);
        return;
    }
    check_token(data, size, &t);
}
