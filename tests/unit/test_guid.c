/* GUID parsing, formatting, byte order and labels (include/negoex/negoex.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "negoex/negoex.h"

#define CONV_TEXT "3b29075a-f391-af33-a1b4-a212249d7cb4"

static const uint8_t CONV_WIRE[16] = {0x5a, 0x07, 0x29, 0x3b, 0x91, 0xf3, 0x33, 0xaf,
                                      0xa1, 0xb4, 0xa2, 0x12, 0x24, 0x9d, 0x7c, 0xb4};
static const uint8_t PKU2U_WIRE[16] = {0x5c, 0x33, 0x53, 0x0d, 0xea, 0xf9, 0x0d, 0x4d,
                                       0xb2, 0xec, 0x4a, 0xe3, 0x78, 0x6e, 0xc3, 0x08};
static const uint8_t PKU2U_DOC_WIRE[16] = {0xad, 0x69, 0x5f, 0x23, 0xfb, 0x73, 0xbc, 0x4d,
                                           0x82, 0x03, 0x06, 0x29, 0xe7, 0x39, 0x33, 0x9b};

/* Parses text, asserts success and the expected wire bytes. */
static void expect_parse(const char *text, const uint8_t wire[16])
{
    negoex_guid g;
    memset(&g, 0xee, sizeof g);
    int rc = negoex_guid_parse(&g, text);
    if (rc != NEGOEX_OK)
        fail_msg("negoex_guid_parse(\"%s\") = %d (%s), expected 0", text, rc, negoex_error_name(rc));
    assert_memory_equal(g.bytes, wire, 16);
}

static void expect_syntax_error(const char *text)
{
    negoex_guid g;
    memset(&g, 0, sizeof g);
    int rc = negoex_guid_parse(&g, text);
    if (rc != NEGOEX_ERR_GUID_SYNTAX)
        fail_msg("negoex_guid_parse(\"%s\") = %d (%s), expected NEGOEX_ERR_GUID_SYNTAX", text, rc,
                 negoex_error_name(rc));
}

static void test_parse_byte_order(void **state)
{
    (void)state;
    expect_parse(CONV_TEXT, CONV_WIRE);
    expect_parse("0d53335c-f9ea-4d0d-b2ec-4ae3786ec308", PKU2U_WIRE);
    expect_parse("235f69ad-73fb-4dbc-8203-0629e739339b", PKU2U_DOC_WIRE);

    /* MIT's test scheme: the OID's DER content zero-padded (wire 69 85 a2 c0 ac 66 00..). */
    static const uint8_t mit1[16] = {0x69, 0x85, 0xa2, 0xc0, 0xac, 0x66, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    expect_parse("c0a28569-66ac-0000-0000-000000000000", mit1);
    /* nxtoy: bytes "nxtoy-scheme-001". */
    expect_parse("6f74786e-2d79-6373-6865-6d652d303031", (const uint8_t *)"nxtoy-scheme-001");

    static const uint8_t zero[16] = {0};
    expect_parse("00000000-0000-0000-0000-000000000000", zero);
    uint8_t ff[16];
    memset(ff, 0xff, sizeof ff);
    expect_parse("ffffffff-ffff-ffff-ffff-ffffffffffff", ff);
}

static void test_format(void **state)
{
    (void)state;
    char text[NEGOEX_GUID_STRING_LEN + 1];
    negoex_guid g;

    assert_int_equal(NEGOEX_GUID_STRING_LEN, 36);

    memcpy(g.bytes, CONV_WIRE, 16);
    memset(text, 'X', sizeof text);
    negoex_guid_format(&g, text);
    assert_string_equal(text, CONV_TEXT);
    assert_int_equal(text[36], '\0');

    memcpy(g.bytes, PKU2U_WIRE, 16);
    negoex_guid_format(&g, text);
    assert_string_equal(text, "0d53335c-f9ea-4d0d-b2ec-4ae3786ec308");

    memcpy(g.bytes, "nxtoy-scheme-001", 16);
    negoex_guid_format(&g, text);
    assert_string_equal(text, "6f74786e-2d79-6373-6865-6d652d303031");

    memset(g.bytes, 0xab, 16);
    negoex_guid_format(&g, text);
    assert_string_equal(text, "abababab-abab-abab-abab-abababababab");
}

static void test_parse_format_round_trip(void **state)
{
    (void)state;
    static const char *const texts[] = {
        CONV_TEXT,
        "0d53335c-f9ea-4d0d-b2ec-4ae3786ec308",
        "235f69ad-73fb-4dbc-8203-0629e739339b",
        "c0a28569-66ac-0000-0000-000000000000",
        "d1b08469-2ca8-0000-0000-000000000000",
        "7130cb06-2062-6a1b-409e-3514c26b1773",
        "0123abcd-4567-89ef-fedc-ba9876543210",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        negoex_guid g;
        char out[NEGOEX_GUID_STRING_LEN + 1];
        assert_int_equal(negoex_guid_parse(&g, texts[i]), NEGOEX_OK);
        negoex_guid_format(&g, out);
        assert_string_equal(out, texts[i]);
    }
    /* every wire byte value survives format -> parse */
    negoex_guid g, back;
    char out[NEGOEX_GUID_STRING_LEN + 1];
    for (unsigned start = 0; start < 256; start += 16) {
        for (unsigned i = 0; i < 16; i++)
            g.bytes[i] = (uint8_t)(start + i * 17u);
        negoex_guid_format(&g, out);
        assert_int_equal(strlen(out), 36);
        assert_int_equal(negoex_guid_parse(&back, out), NEGOEX_OK);
        assert_memory_equal(back.bytes, g.bytes, 16);
    }
}

static void test_parse_braces_and_case(void **state)
{
    (void)state;
    expect_parse("{" CONV_TEXT "}", CONV_WIRE);
    expect_parse("3B29075A-F391-AF33-A1B4-A212249D7CB4", CONV_WIRE);
    expect_parse("{3B29075A-F391-AF33-A1B4-A212249D7CB4}", CONV_WIRE);
    expect_parse("3b29075A-F391-af33-A1b4-a212249D7cB4", CONV_WIRE);
    expect_parse("{0D53335C-F9EA-4D0D-B2EC-4AE3786EC308}", PKU2U_WIRE);

    /* formatting is always canonical lowercase without braces */
    negoex_guid g;
    char out[NEGOEX_GUID_STRING_LEN + 1];
    assert_int_equal(negoex_guid_parse(&g, "{3B29075A-F391-AF33-A1B4-A212249D7CB4}"), NEGOEX_OK);
    negoex_guid_format(&g, out);
    assert_string_equal(out, CONV_TEXT);
}

static void test_parse_syntax_errors(void **state)
{
    (void)state;
    expect_syntax_error("");
    /* short */
    expect_syntax_error("3b29075a-f391-af33-a1b4-a212249d7cb");
    expect_syntax_error("3b29075a-f391-af33-a1b4");
    expect_syntax_error("3b29075-f391-af33-a1b4-a212249d7cb4");
    /* bad characters */
    expect_syntax_error("3b29075g-f391-af33-a1b4-a212249d7cb4");
    expect_syntax_error("3b29075a-f391-af33-a1b4-a212249d7cbz");
    expect_syntax_error("3b29075a-f391-af 3-a1b4-a212249d7cb4");
    expect_syntax_error("3b29075a-f391-af33-a1b4-a212249d7c-4");
    /* missing or misplaced dashes */
    expect_syntax_error("3b29075af391af33a1b4a212249d7cb4");
    expect_syntax_error("3b29075a-f391af33-a1b4-a212249d7cb4");
    expect_syntax_error("3b29075af-391-af33-a1b4-a212249d7cb4");
    expect_syntax_error("3b29075a:f391:af33:a1b4:a212249d7cb4");
    /* trailing junk */
    expect_syntax_error(CONV_TEXT "0");
    expect_syntax_error(CONV_TEXT "x");
    expect_syntax_error(CONV_TEXT " ");
    expect_syntax_error(CONV_TEXT "}");
    expect_syntax_error("{" CONV_TEXT "}x");
    /* unbalanced braces */
    expect_syntax_error("{" CONV_TEXT);
    expect_syntax_error("{" CONV_TEXT ")");
    expect_syntax_error("{{" CONV_TEXT "}}");
    /* leading junk */
    expect_syntax_error(" " CONV_TEXT);
    expect_syntax_error("x" CONV_TEXT);
}

static void test_well_known_constants(void **state)
{
    (void)state;
    char out[NEGOEX_GUID_STRING_LEN + 1];
    assert_memory_equal(NEGOEX_SCHEME_PKU2U.bytes, PKU2U_WIRE, 16);
    negoex_guid_format(&NEGOEX_SCHEME_PKU2U, out);
    assert_string_equal(out, "0d53335c-f9ea-4d0d-b2ec-4ae3786ec308");

    assert_memory_equal(NEGOEX_SCHEME_PKU2U_DOCUMENTED.bytes, PKU2U_DOC_WIRE, 16);
    negoex_guid_format(&NEGOEX_SCHEME_PKU2U_DOCUMENTED, out);
    assert_string_equal(out, "235f69ad-73fb-4dbc-8203-0629e739339b");
}

static void test_labels(void **state)
{
    (void)state;
    negoex_guid g;
    const char *l;

    l = negoex_guid_label(&NEGOEX_SCHEME_PKU2U);
    assert_non_null(l);
    assert_string_equal(l, "PKU2U");

    l = negoex_guid_label(&NEGOEX_SCHEME_PKU2U_DOCUMENTED);
    assert_non_null(l);
    assert_string_equal(l, "PKU2U (documented GUID)");

    /* the same values parsed from text */
    assert_int_equal(negoex_guid_parse(&g, "{0D53335C-F9EA-4D0D-B2EC-4AE3786EC308}"), NEGOEX_OK);
    l = negoex_guid_label(&g);
    assert_non_null(l);
    assert_string_equal(l, "PKU2U");
    assert_int_equal(negoex_guid_parse(&g, "235f69ad-73fb-4dbc-8203-0629e739339b"), NEGOEX_OK);
    l = negoex_guid_label(&g);
    assert_non_null(l);
    assert_string_equal(l, "PKU2U (documented GUID)");

    /* unknown GUIDs have no label */
    assert_int_equal(negoex_guid_parse(&g, CONV_TEXT), NEGOEX_OK);
    assert_null(negoex_guid_label(&g));
    assert_int_equal(negoex_guid_parse(&g, "c0a28569-66ac-0000-0000-000000000000"), NEGOEX_OK);
    assert_null(negoex_guid_label(&g));
    memset(g.bytes, 0, 16);
    assert_null(negoex_guid_label(&g));
    /* one bit off PKU2U is not PKU2U */
    memcpy(g.bytes, PKU2U_WIRE, 16);
    g.bytes[15] ^= 1;
    assert_null(negoex_guid_label(&g));
}

static void test_equal(void **state)
{
    (void)state;
    negoex_guid a, b;
    assert_int_equal(negoex_guid_parse(&a, CONV_TEXT), NEGOEX_OK);
    assert_int_equal(negoex_guid_parse(&b, "{" CONV_TEXT "}"), NEGOEX_OK);
    assert_true(negoex_guid_equal(&a, &b));
    assert_true(negoex_guid_equal(&NEGOEX_SCHEME_PKU2U, &NEGOEX_SCHEME_PKU2U));
    assert_false(negoex_guid_equal(&NEGOEX_SCHEME_PKU2U, &NEGOEX_SCHEME_PKU2U_DOCUMENTED));
    for (size_t i = 0; i < 16; i++) {
        b = a;
        b.bytes[i] ^= 0x80;
        assert_false(negoex_guid_equal(&a, &b));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_byte_order),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_parse_format_round_trip),
        cmocka_unit_test(test_parse_braces_and_case),
        cmocka_unit_test(test_parse_syntax_errors),
        cmocka_unit_test(test_well_known_constants),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
