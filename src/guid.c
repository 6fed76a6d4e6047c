#include <negoex/negoex.h>

#include <string.h>

const negoex_guid NEGOEX_SCHEME_PKU2U = {
    {0x5c, 0x33, 0x53, 0x0d, 0xea, 0xf9, 0x0d, 0x4d, 0xb2, 0xec, 0x4a, 0xe3, 0x78, 0x6e, 0xc3, 0x08}};
const negoex_guid NEGOEX_SCHEME_PKU2U_DOCUMENTED = {
    {0xad, 0x69, 0x5f, 0x23, 0xfb, 0x73, 0xbc, 0x4d, 0x82, 0x03, 0x06, 0x29, 0xe7, 0x39, 0x33, 0x9b}};

const uint8_t NEGOEX_OID_DER[NEGOEX_OID_DER_LEN] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x1e};

/* Text position of each wire byte: Data1..Data3 are little-endian, Data4 as is. */
static const uint8_t text_order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int negoex_guid_parse(negoex_guid *out, const char *text)
{
    if (out == NULL || text == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    size_t n = strlen(text);
    int braced = n == NEGOEX_GUID_STRING_LEN + 2 && text[0] == '{' && text[n - 1] == '}';
    if (braced)
        text++;
    else if (n != NEGOEX_GUID_STRING_LEN)
        return NEGOEX_ERR_GUID_SYNTAX;

    uint8_t textbytes[16];
    size_t b = 0;
    for (size_t i = 0; i < NEGOEX_GUID_STRING_LEN;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-')
                return NEGOEX_ERR_GUID_SYNTAX;
            i++;
            continue;
        }
        int hi = hexval(text[i]), lo = hexval(text[i + 1]);
        if (hi < 0 || lo < 0)
            return NEGOEX_ERR_GUID_SYNTAX;
        textbytes[b++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    for (size_t i = 0; i < 16; i++)
        out->bytes[i] = textbytes[text_order[i]];
    return NEGOEX_OK;
}

void negoex_guid_format(const negoex_guid *guid, char out[NEGOEX_GUID_STRING_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        uint8_t v = guid->bytes[text_order[i]];
        out[o++] = digits[v >> 4];
        out[o++] = digits[v & 15];
    }
    out[o] = '\0';
}

int negoex_guid_equal(const negoex_guid *a, const negoex_guid *b)
{
    return memcmp(a->bytes, b->bytes, sizeof a->bytes) == 0;
}

const char *negoex_guid_label(const negoex_guid *guid)
{
    if (negoex_guid_equal(guid, &NEGOEX_SCHEME_PKU2U))
        return "PKU2U";
    if (negoex_guid_equal(guid, &NEGOEX_SCHEME_PKU2U_DOCUMENTED))
        return "PKU2U (documented GUID)";
    return NULL;
}
