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
    static const uint8_t confs[] = {0x00, 0x01, 0x02, 0x03, 0x06, 0x07, 0x0a, 0x0b, 0x12, 0x13,
                                    0x16, 0x17, 0x20, 0x21, 0x40, 0x41, 0x10, 0x11, 0x08, 0x09};
    for (size_t c = 0; c < sizeof confs; c++) {
        uint8_t conf = confs[c];
        int fuzzed_is_init = conf & 1;
        negoex_spnego *fz = harness_side(conf, fuzzed_is_init ? NEGOEX_ROLE_INITIATOR : NEGOEX_ROLE_ACCEPTOR, 0x5a);
        negoex_spnego *peer = harness_side(conf, fuzzed_is_init ? NEGOEX_ROLE_ACCEPTOR : NEGOEX_ROLE_INITIATOR, 0x33);
        if (fz == NULL || peer == NULL)
            return 1;
        char path[4096];
        snprintf(path, sizeof path, "%s/seed-conf-%02x", argv[1], conf);
        FILE *f = fopen(path, "wb");
        if (f == NULL)
            return 1;
        fputc(conf, f);
        negoex_spnego *init = fuzzed_is_init ? fz : peer, *acc = fuzzed_is_init ? peer : fz;
        const uint8_t *out;
        size_t len;
        int rc = negoex_spnego_step(init, NULL, 0, &out, &len);
        int to_acc = 1;
        uint8_t buf[1 << 16];
        while (rc >= 0 && len != 0 && len <= sizeof buf) {
            if ((to_acc && acc == fz) || (!to_acc && init == fz))
                put(f, out, len);
            for (size_t i = 0; i < len; i++)
                buf[i] = out[i];
            size_t n = len;
            rc = negoex_spnego_step(to_acc ? acc : init, buf, n, &out, &len);
            to_acc = !to_acc;
        }
        fclose(f);
        negoex_spnego_free(fz);
        negoex_spnego_free(peer);
    }
    return 0;
}
