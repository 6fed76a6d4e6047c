/* libFuzzer target for the PKU2U acceptor (src/pku2u/pku2u_acceptor.c)
 * driven through the scheme interface: the fuzzer is the initiator. Input
 * (fuzz/pku2u_harness.h): a config byte, then {u16 LE length, bytes} chunks:
 * [the initiator's metadata], the AS-REQ, the AP-REQ, then Wrap / MIC tokens
 * once established. PKI, clocks and randomness are fixed, so the acceptor's
 * AS-REP is the same in every run and a recorded AP-REQ (seedgen_pku2u)
 * passes KRB-FINISHED. Every failure must be a negative result with a
 * named status and at most a KRB-ERROR token; nothing may crash or leak. */
#include "pku2u_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    h_run(0, data, size);
    return 0;
}
