/* privsep.h: privilege separation for the live modes (watch and probe):
 * every privileged handle (the live capture, the -w file's temporary) is
 * opened as root, then a child drops to an unprivileged user for good and
 * does all the parsing.  In capture/, the lowest layer, because the live
 * capture is what needs root and both the command line and probe/ sit on
 * it: neither would have to include upward.  */
#ifndef ACRDIAG_PRIVSEP_H
#define ACRDIAG_PRIVSEP_H

#include <stdbool.h>
#include <stddef.h>

/* Refuses to run set-user-ID or set-group-ID: returns false and fills err. */
bool privsep_refuse_setuid(char *err, size_t errlen);

/* Drops root for good once every privileged handle is open: supplementary
 * groups, then gid, then uid to `user` (default "nobody"), then verifies
 * with getresuid/getresgid that neither can be regained.  Returns false
 * and fills err on any failure; the caller must then exit.  Does nothing
 * and returns true when not running as root.  */
bool privsep_drop(const char *user, char *err, size_t errlen);

/* Forks; the child drops to `user` (privsep_drop) and returns `run(arg)`
 * as its exit status; the parent keeps root only to wait for it (ignoring
 * SIGINT, which the terminal sends to both; forwarding SIGTERM) and
 * returns the child's exit status, or 2 when it died of a signal or could
 * not drop privileges.  Open every privileged handle before calling it.  */
int privsep_run_unprivileged(const char *user, int (*run)(void *arg), void *arg);

#endif
