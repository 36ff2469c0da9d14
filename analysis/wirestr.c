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

/* The first piece of p (n > 0 bytes) as the writers show it: a printable
 * UTF-8 sequence as it is, after a backslash when it is an ASCII character
 * in `escape` (NULL: none); else each byte of the invalid or unshown
 * sequence as \xHH.  Writes at most WIRE_PIECE_MAX bytes to out and their
 * count to *out_len; returns how many bytes of p it took.  */
#define WIRE_PIECE_MAX 16
static size_t wire_piece(const unsigned char *p, size_t n, const char *escape, char *out, size_t *out_len)
{
    static const char hex[] = "0123456789abcdef";
    uint32_t cp;
    size_t len = an_utf8_seq(p, n, &cp), o = 0;

    if (len && an_cp_shown(cp)) {
        if (escape && cp < 0x80 && strchr(escape, (int)cp))
            out[o++] = '\\';
        memcpy(out + o, p, len);
        *out_len = o + len;
        return len;
    }
    if (!len)
        len = 1;
    for (size_t k = 0; k < len; k++) {
        out[o++] = '\\';
        out[o++] = 'x';
        out[o++] = hex[p[k] >> 4];
        out[o++] = hex[p[k] & 0x0f];
    }
    *out_len = o;
    return len;
}

void an_put_wire(FILE *out, const char *s, size_t max, const char *escape)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strnlen(s, max);
    char piece[WIRE_PIECE_MAX];

    for (size_t i = 0; i < n;) {
        size_t len;
        i += wire_piece(p + i, n - i, escape, piece, &len);
        fwrite(piece, 1, len, out);
    }
}

size_t an_wire_copy(char *buf, const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strnlen(s, max), o = 0;

    for (size_t i = 0; i < n;) {
        size_t len;
        i += wire_piece(p + i, n - i, NULL, buf + o, &len);
        o += len;
    }
    return o;
}
