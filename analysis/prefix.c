/* prefix.c: address prefixes (--private-net): parsing "ADDR[/LEN]" and
 * whether an address lies inside one.  */
#include <stdlib.h>
#include <string.h>

#include "analysis.h"

bool an_prefix_parse(const char *s, struct an_prefix *out)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (!cap_addr_parse(buf, &out->addr))
        return false;
    unsigned max = out->addr.family == 4 ? 32 : 128;
    out->len = max;
    if (slash) {
        char *end;
        unsigned long l = strtoul(slash + 1, &end, 10);
        if (*end || end == slash + 1 || l > max)
            return false;
        out->len = (unsigned)l;
    }
    return true;
}

bool an_prefix_contains(const struct an_prefix *p, const struct cap_addr *a)
{
    if (p->addr.family != a->family)
        return false;
    unsigned full = p->len / 8, rest = p->len % 8;
    if (memcmp(p->addr.a, a->a, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (p->addr.a[full] & mask) == (a->a[full] & mask);
}
