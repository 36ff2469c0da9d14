/* zeek.h: inside capture/ only: Zeek's connection history letters, added
 * by tcp_track.c as packets arrive (inline: up to three per packet); the
 * conn_state names are in zeek.c.  */
#ifndef ACRDIAG_ZEEK_H
#define ACRDIAG_ZEEK_H

#include <stdint.h>
#include <string.h>

#include "flow.h"

/* Records a history letter once per direction: upper case for the client
 * (Zeek's originator), lower case for the server.  */
static inline void zeek_history_add(struct cap_flow *f, int dir, char letter)
{
    static const char letters[] = "SHADFRT";
    const char *at = strchr(letters, letter);
    if (!at)
        return;
    uint16_t bit = (uint16_t)(1u << ((at - letters) + (dir ? 8 : 0)));
    if (f->history_seen & bit)
        return;
    /* One letter per bit set before this one: no strlen per packet. */
    unsigned n = (unsigned)__builtin_popcount(f->history_seen);
    f->history_seen |= bit;
    if (n >= LIM_HISTORY)
        return;
    f->history[n] = dir == CAP_C2S ? letter : (char)(letter - 'A' + 'a');
    f->history[n + 1] = '\0';
}

#endif
