/* pcapknobs.c: an LD_PRELOAD library for `make bench-live` that changes libpcap's capture knobs under `acrdiag watch`.
 *
 * capture/live.c opens watch's capture buffered (TPACKET_V3 blocks, a 50 ms
 * block timeout, 64 MiB; -B sets the size) and probe's in immediate mode.
 * These overrides measure other choices with the same binary:
 *   PCAPKNOBS_IMMEDIATE=1    immediate mode as live.c had it for watch before
 *                            (TPACKET_V2, whose frames libpcap sizes by the
 *                            snap length when the interface has offloads on)
 *   PCAPKNOBS_BUFFER_MB=N    the kernel ring's size in MiB
 *   PCAPKNOBS_TIMEOUT_MS=N   no immediate mode but a block timeout of N ms
 * Unset, each call goes through unchanged.  */
#include <dlfcn.h>
#include <pcap/pcap.h>
#include <stdlib.h>

typedef int (*set_int_fn)(pcap_t *, int);

/* The value of variable `name` when it is a whole number from 1 to max, else 0. */
static int knob(const char *name, long max)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return 0;
    char *end;
    long n = strtol(v, &end, 10);
    return *end || n < 1 || n > max ? 0 : (int)n;
}

static set_int_fn next_fn(const char *name)
{
    /* dlsym returns an object pointer; POSIX guarantees it converts. */
    union {
        void *obj;
        set_int_fn fn;
    } u = { .obj = dlsym(RTLD_NEXT, name) };
    return u.fn;
}

int pcap_set_buffer_size(pcap_t *p, int size)
{
    set_int_fn next = next_fn("pcap_set_buffer_size");
    int mb = knob("PCAPKNOBS_BUFFER_MB", 2047);
    return next ? next(p, mb ? mb << 20 : size) : PCAP_ERROR;
}

int pcap_set_timeout(pcap_t *p, int ms)
{
    set_int_fn next = next_fn("pcap_set_timeout");
    if (!next)
        return PCAP_ERROR;
    int knob_ms = knob("PCAPKNOBS_TIMEOUT_MS", 10000);
    int rc = next(p, knob_ms ? knob_ms : ms);
    /* live.c's buffered mode sets a timeout and leaves immediate mode off. */
    if (knob("PCAPKNOBS_IMMEDIATE", 1)) {
        set_int_fn imm = next_fn("pcap_set_immediate_mode");
        return imm ? imm(p, 1) : PCAP_ERROR;
    }
    return rc;
}

int pcap_set_immediate_mode(pcap_t *p, int on)
{
    set_int_fn next = next_fn("pcap_set_immediate_mode");
    int ms = knob("PCAPKNOBS_TIMEOUT_MS", 10000);
    if (!next)
        return PCAP_ERROR;
    if (!ms)
        return next(p, on);
    pcap_set_timeout(p, ms);
    return next(p, 0);
}
