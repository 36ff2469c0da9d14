/* fuzz_http.c: fuzz harness: one HTTP/1.x response head and body start
 * through cap_http_parse_response, and the same bytes as the server's side
 * of an HTTP/2 connection through cap_http2_parse_response.  */
#include <stdint.h>

#include "capture/capture.h"
#include "fuzz_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cap_http_resp h;
    cap_http_parse_response(data, size, &h);
    FUZZ_CHECK(fuzz_terminated(h.reason, sizeof(h.reason)));
    FUZZ_CHECK(fuzz_terminated(h.realm, sizeof(h.realm)));
    FUZZ_CHECK(fuzz_terminated(h.content_type, sizeof(h.content_type)));
    FUZZ_CHECK(fuzz_terminated(h.error_code, sizeof(h.error_code)));
    FUZZ_CHECK(fuzz_terminated(h.error_message, sizeof(h.error_message)));
    FUZZ_CHECK(fuzz_terminated(h.denied_client_ip, sizeof(h.denied_client_ip)));
    /* The same bytes as the server's side of an HTTP/2 connection. */
    enum cap_status st = cap_http2_parse_response(data, size, &h);
    FUZZ_CHECK(st != CAP_OK || (h.status >= 0 && h.status <= 999 && h.complete_head));
    FUZZ_CHECK(fuzz_terminated(h.reason, sizeof(h.reason)));
    FUZZ_CHECK(fuzz_terminated(h.realm, sizeof(h.realm)));
    FUZZ_CHECK(fuzz_terminated(h.error_code, sizeof(h.error_code)));
    FUZZ_CHECK(fuzz_terminated(h.error_message, sizeof(h.error_message)));
    FUZZ_CHECK(fuzz_terminated(h.denied_client_ip, sizeof(h.denied_client_ip)));
    return 0;
}
