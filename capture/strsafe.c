/* strsafe.c: wire bytes to printable, NUL-terminated ASCII strings. */
#include "capture.h"

static const char hex_digits[] = "0123456789abcdef";

void cap_safe_copy(char *dst, size_t dstlen, const uint8_t *src, size_t srclen)
{
    if (dst == NULL || dstlen == 0)
        return;
    size_t o = 0;
    for (size_t i = 0; i < srclen; i++) {
        uint8_t c = src[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            if (o + 1 >= dstlen)
                break;
            dst[o++] = (char)c;
        } else {
            /* Control bytes, DEL, non-ASCII and the backslash itself become
             * \xHH, so no terminal escape sequence survives and the escape
             * stays unambiguous.  An escape never gets cut in half.  */
            if (o + 4 >= dstlen)
                break;
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex_digits[c >> 4];
            dst[o++] = hex_digits[c & 0x0f];
        }
    }
    dst[o] = '\0';
}
