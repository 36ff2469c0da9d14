/* wirestr.h: the UTF-8 and printability checks every writer applies to
 * strings that may come from the wire.  Internal to analysis/.  */
#ifndef ACRDIAG_WIRESTR_H
#define ACRDIAG_WIRESTR_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

/* Length of the valid UTF-8 sequence at p (n bytes available) with its code
 * point in *cp, or 0 when the bytes are not valid UTF-8 (RFC 3629 section 4:
 * no overlong forms, no surrogates, nothing above U+10FFFF; the same rules
 * as jansson's own check, so json_stringn never refuses the result).  */
size_t an_utf8_seq(const unsigned char *p, size_t n, uint32_t *cp);

/* Whether a code point may be shown as it is: not a C0 or C1 control (ESC,
 * CSI and OSC start terminal escape sequences; a newline ends a table row),
 * not DEL, not a line separator, not a bidirectional control that reorders
 * what a person reads.  Writers print anything else as \xHH.  */
bool an_cp_shown(uint32_t cp);

/* Writes at most max bytes of s (stopping at a NUL): printable UTF-8 as it
 * is, with a backslash before any ASCII character in `escape` (NULL: none),
 * every other byte as \xHH.  */
void an_put_wire(FILE *out, const char *s, size_t max, const char *escape);

/* The same as an_put_wire with no `escape`, into buf, which has room for 4
 * bytes per byte of s; returns how many it wrote (no NUL is added).  */
size_t an_wire_copy(char *buf, const char *s, size_t max);

#endif
