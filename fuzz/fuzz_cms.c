/* libFuzzer target for PKINIT CMS SignedData verification (src/pku2u/cms.c):
 * any bytes, bare SignedData or ContentInfo, must verify or fail cleanly,
 * for both content types PKU2U expects, with and without the sspi-rs
 * content-type leniency. Whatever verifies must hand back eContent inside
 * the input and a signer certificate. */
#include <stdlib.h>

#include "pku2u/cms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static const uint8_t AUTH_DATA[] = {0x2b, 0x06, 0x01, 0x05, 0x02, 0x03, 0x01};    /* id-pkinit-authData */
static const uint8_t DH_KEY_DATA[] = {0x2b, 0x06, 0x01, 0x05, 0x02, 0x03, 0x02}; /* id-pkinit-DHKeyData */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int t = 0; t < 2; t++) {
        for (unsigned flags = 0; flags < 2; flags++) {
            negoex_cms_verify_opts opts = {0, flags ? NEGOEX_CMS_ACCEPT_SSPIRS_CT_ATTR : 0u};
            negoex_cms_verified v;
            negoex_error_info err;
            int rc = negoex_cms_verify(data, size, t ? DH_KEY_DATA : AUTH_DATA, sizeof AUTH_DATA, &opts, &v, &err);
            if (rc == 0) {
                CHECK(v.signer != NULL);
                CHECK(v.econtent.data >= data && v.econtent.data + v.econtent.len <= data + size);
                negoex_cms_verified_clear(&v);
            } else {
                CHECK(rc < 0);
            }
        }
    }
    return 0;
}
