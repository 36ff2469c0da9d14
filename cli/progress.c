/* progress.c: analyze's progress line on a terminal. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* Reading that takes more than PROGRESS_AFTER_NS shows one line on stderr,
 * redrawn every PROGRESS_EVERY_NS, when stderr is a terminal.  */
#define PROGRESS_AFTER_NS 2000000000LL
#define PROGRESS_EVERY_NS 250000000LL

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void progress_init(struct progress *p)
{
    *p = (struct progress){ .tty = isatty(2) == 1, .start = mono_ns() };
}

void progress_tick(struct progress *p, const char *what, unsigned i, unsigned n, const char *name,
                          uint64_t packets, uint64_t pos, uint64_t size)
{
    if (!p->tty)
        return;
    int64_t now = mono_ns();
    if (now - p->start < PROGRESS_AFTER_NS || now - p->last < PROGRESS_EVERY_NS)
        return;
    p->last = now;
    p->shown = true;
    char line[300];
    int k = snprintf(line, sizeof(line), "\racrdiag: %s ", what);
    if (n > 1)
        k += snprintf(line + k, sizeof(line) - (size_t)k, "file %u of %u, ", i + 1, n);
    /* The name as the text report prints it would need escaping: only its
     * last 40 bytes, printable ASCII, others as '?'.  */
    size_t len = strlen(name);
    const char *tail = len > 40 ? name + len - 40 : name;
    for (; *tail && k < (int)sizeof(line) - 80; tail++)
        line[k++] = *tail >= 0x20 && *tail < 0x7f ? *tail : '?';
    k += snprintf(line + k, sizeof(line) - (size_t)k, ": %llu packets", (unsigned long long)packets);
    if (size > 0 && pos <= size)
        k += snprintf(line + k, sizeof(line) - (size_t)k, ", %.0f%%", 100.0 * (double)pos / (double)size);
    snprintf(line + k, sizeof(line) - (size_t)k, ", %.0f s", (double)(now - p->start) / 1e9);
    fprintf(stderr, "%s\033[K", line);
}

void progress_done(struct progress *p)
{
    if (p->shown)
        fputs("\r\033[K", stderr);
    p->shown = false;
}
