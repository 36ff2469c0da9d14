/* fuzz_dns.c: fuzz harness: one DNS message through cap_dns_parse.  */
#include <stdint.h>

#include "capture/capture.h"
#include "fuzz_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct cap_dns_msg m;
    enum cap_status st = cap_dns_parse(data, size, &m);
    FUZZ_CHECK(st == CAP_OK || st == CAP_TRUNCATED || st == CAP_INVALID);
    FUZZ_CHECK(fuzz_terminated(m.qname, sizeof(m.qname)));
    FUZZ_CHECK(m.n_answers <= LIM_DNS_ANSWERS);
    for (unsigned i = 0; i < m.n_answers; i++) {
        FUZZ_CHECK(fuzz_terminated(m.answers[i].name, sizeof(m.answers[i].name)));
        FUZZ_CHECK(fuzz_terminated(m.answers[i].target, sizeof(m.answers[i].target)));
    }
    return 0;
}
