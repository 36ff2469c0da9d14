/* fuzz_keylog.c: fuzz harness: byte 0 picks a cipher suite; the rest is
 * read as an NSS key log (cap_keylog_add) and, split at its first newline,
 * the part after it as TLS records opened with keys made from the first
 * secret found (or fixed bytes): cap_tls13_keys / cap_tls12_keys and
 * cap_tls_decrypt.  Checks: counts within LIM_KEYLOG_ENTRIES, a record
 * that does not authenticate yields no bytes and keeps its sequence number,
 * plaintext never longer than the record.  */
#include <stdint.h>
#include <string.h>

#include "capture/capture.h"
#include "fuzz_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint16_t suites[] = { 0x1301, 0x1302, 0x1303, 0xC02B, 0xC02C, 0xC02F, 0xC030, 0xCCA8, 0x009C, 0x002F };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint16_t suite = suites[data[0] % (sizeof(suites) / sizeof(suites[0]))];
    bool server = data[0] & 0x80;
    data++;
    size--;
    struct cap_keylog *kl = cap_keylog_new();
    if (!kl)
        return 0;
    size_t added = cap_keylog_add(kl, data, size);
    FUZZ_CHECK(added == cap_keylog_count(kl));
    FUZZ_CHECK(cap_keylog_count(kl) <= LIM_KEYLOG_ENTRIES);

    uint8_t cr[32] = { 0 }, sr[32] = { 1 }, secret[CAP_SECRET_MAX];
    size_t sl = 0;
    memset(secret, 0x5a, sizeof(secret));
    bool tls13 = suite >> 8 == 0x13;
    if (size >= 64 + 14 && memcmp(data, "CLIENT_RANDOM ", 14) == 0) {
        for (int i = 0; i < 32; i++) {
            unsigned v;
            char hex[3] = { (char)data[14 + 2 * i], (char)data[15 + 2 * i], 0 };
            cr[i] = sscanf(hex, "%2x", &v) == 1 ? (uint8_t)v : 0;
        }
    }
    bool found = cap_keylog_find(kl, cr, tls13 ? CAP_SECRET_SERVER_APP : CAP_SECRET_MASTER, secret, &sl);
    FUZZ_CHECK(!found || sl <= CAP_SECRET_MAX);
    struct cap_tls_keys k;
    bool keys = tls13 ? cap_tls13_keys(suite, secret, found ? sl : (suite == 0x1302 ? 48 : 32), &k)
                      : cap_tls12_keys(suite, secret, cr, sr, server, &k);
    FUZZ_CHECK(keys == cap_tls_suite_supported(suite) || (found && tls13));

    const uint8_t *nl = memchr(data, '\n', size);
    const uint8_t *p = nl ? nl + 1 : data;
    size_t left = size - (size_t)(p - data);
    static uint8_t out[16384 + 256];
    for (unsigned i = 0; keys && i < 64 && left >= 5; i++) {
        size_t rl = 5 + ((size_t)p[3] << 8 | p[4]);
        if (rl > left)
            rl = left;                  /* a cut record is refused, not read past */
        uint64_t seq = k.seq;
        size_t n = 1;
        uint8_t type;
        enum cap_decrypt r = cap_tls_decrypt(&k, p, rl, out, sizeof(out), &n, &type);
        if (r != CAP_DECRYPT_OK) {
            FUZZ_CHECK(n == 0 && k.seq == seq);
        } else {
            FUZZ_CHECK(n + 5 <= rl && k.seq == seq + 1);
        }
        p += rl;
        left -= rl;
    }
    if (keys)
        cap_tls_keys_wipe(&k);
    cap_keylog_free(kl);
    return 0;
}
