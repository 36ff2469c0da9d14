/* wirestr.c: UTF-8 validation and printability for strings from the wire. */
#include <string.h>

#include "analysis/wirestr.h"

size_t an_utf8_seq(const unsigned char *p, size_t n, uint32_t *cp)
{
    unsigned char c = p[0];
    size_t len;
    uint32_t v, min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, v = c & 0x1fu, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, v = c & 0x0fu, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, v = c & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3fu);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

bool an_cp_shown(uint32_t cp)
{
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
        return false;
    if (cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
        (cp >= 0x2066 && cp <= 0x2069))
        return false;
    return true;
}

void an_put_wire(FILE *out, const char *s, size_t max, const char *escape)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strnlen(s, max);

    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = an_utf8_seq(p + i, n - i, &cp);

        if (len && an_cp_shown(cp)) {
            if (escape && cp < 0x80 && strchr(escape, (int)cp))
                fputc('\\', out);
            fwrite(p + i, 1, len, out);
            i += len;
            continue;
        }
        for (size_t k = 0; k < (len ? len : 1); k++)
            fprintf(out, "\\x%02x", p[i + k]);
        i += len ? len : 1;
    }
}
