/* fuzz_tls.c: fuzz harness: one direction's stream prefix through
 * cap_tls_parse, including the X.509 path through OpenSSL.  */
#include <stdint.h>

#include "capture/capture.h"
#include "fuzz_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct cap_tls_dir t;
    cap_tls_parse(data, size, &t);
    FUZZ_CHECK(t.bytes_parsed <= size);
    FUZZ_CHECK(t.n_alerts <= LIM_TLS_ALERTS);
    FUZZ_CHECK(fuzz_terminated(t.sni, sizeof(t.sni)));
    const struct cap_cert_info *c = &t.cert;
    FUZZ_CHECK(fuzz_terminated(c->subject_cn, sizeof(c->subject_cn)));
    FUZZ_CHECK(fuzz_terminated(c->issuer_cn, sizeof(c->issuer_cn)));
    FUZZ_CHECK(fuzz_terminated(c->issuer_o, sizeof(c->issuer_o)));
    FUZZ_CHECK(c->n_sans <= LIM_CERT_SANS);
    for (unsigned i = 0; i < c->n_sans; i++)
        FUZZ_CHECK(fuzz_terminated(c->sans[i], sizeof(c->sans[i])));
    return 0;
}
