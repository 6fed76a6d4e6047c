/* libFuzzer target for the PKU2U initiator (src/pku2u/pku2u_initiator.c)
 * driven through the scheme interface: the fuzzer is the acceptor. Each
 * input steps a copy of an initiator that has sent its AS-REQ. Input
 * (fuzz/pku2u_harness.h): a config byte, then {u16 LE length, bytes} chunks:
 * [the acceptor's metadata], the AS-REP (or a KRB-ERROR), the AP-REP, then
 * Wrap / MIC tokens once established. PKI, clocks and randomness are fixed,
 * so the initiator's DH key and Authenticator are the same in every run and
 * a recorded AS-REP / AP-REP (seedgen_pku2u) is accepted. Every failure must
 * be a negative result with a named status and no token; nothing may crash
 * or leak. */
#include "pku2u_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    h_run(1, data, size);
    return 0;
}
