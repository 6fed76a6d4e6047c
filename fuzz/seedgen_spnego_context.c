/* Writes seed inputs for fuzz_spnego_context: for each config, a genuine
 * peer (its own fixed RNG) converses with the side the fuzz target builds,
 * and the peer's tokens are recorded in the target's input format.
 * usage: seedgen_spnego_context DIR */
#include <stdio.h>
#include <stdlib.h>

#include "spnego_context_harness.h"

static void put(FILE *f, const uint8_t *p, size_t n)
{
    fputc((int)(n & 0xff), f);
    fputc((int)(n >> 8), f);
    fwrite(p, 1, n, f);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    /* (conf, ext) pairs; ext is written only when conf announces it. The
     * second group: ntlmtoy, Late Fallback (with and without a retry) and
     * fragments (docs/spnego-late-fallback.md). Existing seed files keep
     * their names. */
    static const uint8_t confs[][2] = {
        {0x00, 0}, {0x01, 0}, {0x02, 0}, {0x03, 0}, {0x06, 0}, {0x07, 0}, {0x0a, 0}, {0x0b, 0}, {0x12, 0},
        {0x13, 0}, {0x16, 0}, {0x17, 0}, {0x20, 0}, {0x21, 0}, {0x40, 0}, {0x41, 0}, {0x10, 0}, {0x11, 0},
        {0x08, 0}, {0x09, 0},
        {0xe2, 0x01}, {0xe3, 0x01}, {0xe2, 0x03}, {0xe3, 0x03}, {0xe2, 0xf3}, {0xe3, 0xf3}, {0xe2, 0x07},
        {0xe3, 0x07}, {0xe2, 0x0b}, {0xe3, 0x0b}, {0xe0, 0x04}, {0xe1, 0x04}, {0xe2, 0xf7}, {0xe3, 0xf7},
        {0xe2, 0x13}, {0xe3, 0x13}};
    for (size_t c = 0; c < sizeof confs / sizeof confs[0]; c++) {
        uint8_t conf = confs[c][0], ext = confs[c][1];
        int fuzzed_is_init = conf & 1;
        negoex_spnego *fz =
            harness_side(conf, ext, fuzzed_is_init ? NEGOEX_ROLE_INITIATOR : NEGOEX_ROLE_ACCEPTOR, 0x5a);
        negoex_spnego *peer =
            harness_side(conf, ext, fuzzed_is_init ? NEGOEX_ROLE_ACCEPTOR : NEGOEX_ROLE_INITIATOR, 0x33);
        if (fz == NULL || peer == NULL)
            return 1;
        char path[4096];
        if (harness_extended(conf))
            snprintf(path, sizeof path, "%s/seed-conf-%02x-%02x", argv[1], conf, ext);
        else
            snprintf(path, sizeof path, "%s/seed-conf-%02x", argv[1], conf);
        FILE *f = fopen(path, "wb");
        if (f == NULL)
            return 1;
        fputc(conf, f);
        if (harness_extended(conf))
            fputc(ext, f);
        negoex_spnego *init = fuzzed_is_init ? fz : peer, *acc = fuzzed_is_init ? peer : fz;
        const uint8_t *out;
        size_t len;
        int rc = negoex_spnego_step(init, NULL, 0, &out, &len);
        int to_acc = 1;
        static uint8_t buf[1 << 16];
        for (int n_msgs = 0; rc >= 0 && len <= sizeof buf && n_msgs < 4000; n_msgs++) {
            negoex_spnego *to = to_acc ? acc : init;
            /* an empty output is the acknowledgement of a fragment */
            if (len == 0 && !(rc == NEGOEX_CONTINUE && negoex_spnego_fragments_pending(to) != 0))
                break;
            if (to == fz)
                put(f, out, len);
            for (size_t i = 0; i < len; i++)
                buf[i] = out[i];
            size_t n = len;
            rc = negoex_spnego_step(to, n ? buf : NULL, n, &out, &len);
            to_acc = !to_acc;
        }
        fclose(f);
        negoex_spnego_free(fz);
        negoex_spnego_free(peer);
    }
    return 0;
}
