/* libFuzzer target for SPNEGO fragments (MS-SPNG 3.1.5.6-3.1.5.11). Input:
 * one byte for the fragment size (6 + b % 64), one for the limits, then the
 * bytes. The bytes are fed to a reassembler in pieces of that size: every
 * answer is CONTINUE, COMPLETE or a clean error; a rejected piece leaves the
 * reassembler as it was; a completed token is what was fed and parses. A
 * whole valid token also goes through the splitter and back unchanged. */
#include <negoex/spnego.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)
#define CAP 4096

static void feed_all(const uint8_t *tok, size_t len, size_t piece, size_t max_fragments, unsigned flags)
{
    static uint8_t buf[CAP], saved_buf[CAP];
    negoex_spnego_reassembler r, saved;
    negoex_bytes whole;
    negoex_error_info err;
    size_t start = 0; /* where the token being assembled began in tok */

    CHECK(negoex_spnego_reassembler_init(&r, buf, sizeof buf) == NEGOEX_OK);
    r.max_fragments = max_fragments;
    r.parse_flags = flags;
    for (size_t at = 0; at < len; at += piece) {
        size_t n = len - at < piece ? len - at : piece;
        saved = r;
        memcpy(saved_buf, buf, r.have);
        if (r.done || r.have == 0)
            start = at;
        err.code = 0;
        err.field = NULL;
        int rc = negoex_spnego_reassembler_feed(&r, tok + at, n, &whole, &err);
        if (rc < 0) {
            CHECK(err.code == rc && err.field != NULL);
            CHECK(memcmp(&saved, &r, sizeof r) == 0 && memcmp(saved_buf, buf, r.have) == 0);
            return;
        }
        CHECK(rc == NEGOEX_CONTINUE || rc == NEGOEX_COMPLETE);
        CHECK(r.have <= r.need && r.need <= sizeof buf && r.fragments <= max_fragments);
        if (rc == NEGOEX_COMPLETE) {
            negoex_spnego_token t;
            CHECK(whole.data == buf && whole.len == r.need);
            CHECK(start + whole.len <= len && memcmp(whole.data, tok + start, whole.len) == 0);
            CHECK(negoex_spnego_parse_ex(whole.data, whole.len, flags, &t, NULL) == NEGOEX_OK);
        }
    }
}

static void split_back(const uint8_t *tok, size_t len, size_t max)
{
    static uint8_t buf[CAP];
    negoex_spnego_fragment_header h;
    negoex_spnego_token t;
    size_t count;

    if (negoex_spnego_fragment_parse(tok, len, &h, NULL) != NEGOEX_OK || h.token_len != len ||
        negoex_spnego_parse_ex(tok, len, NEGOEX_SPNEGO_PARSE_LATE_FALLBACK, &t, NULL) != NEGOEX_OK)
        return;
    CHECK(negoex_spnego_fragment_split(tok, len, max, &count) == NEGOEX_OK);
    CHECK(count == (len + max - 1) / max);
    negoex_spnego_reassembler r;
    CHECK(negoex_spnego_reassembler_init(&r, buf, sizeof buf) == NEGOEX_OK);
    r.max_fragments = count;
    r.parse_flags = NEGOEX_SPNEGO_PARSE_LATE_FALLBACK;
    negoex_bytes frag, whole = {NULL, 0};
    for (size_t i = 0; i < count; i++) {
        CHECK(negoex_spnego_fragment_get(tok, len, max, i, &frag) == NEGOEX_OK);
        int rc = negoex_spnego_reassembler_feed(&r, frag.data, frag.len, &whole, NULL);
        CHECK(rc == (i + 1 < count ? NEGOEX_CONTINUE : NEGOEX_COMPLETE));
    }
    CHECK(whole.len == len && memcmp(whole.data, tok, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size - 2 > CAP)
        return 0;
    size_t piece = NEGOEX_SPNEGO_FRAGMENT_MIN_SEND + data[0] % 64;
    size_t max_fragments = 1 + data[1] % 128;
    unsigned flags = (data[1] & 0x80) ? NEGOEX_SPNEGO_PARSE_LATE_FALLBACK : 0;
    feed_all(data + 2, size - 2, piece, max_fragments, flags);
    /* Peers may cut at 5 bytes (MS-SPNG 3.1.1). */
    feed_all(data + 2, size - 2, NEGOEX_SPNEGO_FRAGMENT_MIN_RECV, SIZE_MAX, NEGOEX_SPNEGO_PARSE_LATE_FALLBACK);
    split_back(data + 2, size - 2, piece);
    return 0;
}
