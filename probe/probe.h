/* probe.h: the public interface of probe/: traffic that creates evidence,
 * and the privilege handling every live mode shares.  */
#ifndef ACRDIAG_PROBE_H
#define ACRDIAG_PROBE_H

#include <stdbool.h>
#include <stddef.h>

/* Refuses to run set-user-ID or set-group-ID: returns false and fills err. */
bool probe_refuse_setuid(char *err, size_t errlen);

/* Drops root for good once every privileged handle is open: supplementary
 * groups, then gid, then uid to `user` (default "nobody"), then verifies
 * with getresuid/getresgid that neither can be regained.  Returns false
 * and fills err on any failure; the caller must then exit.  Does nothing
 * and returns true when not running as root.  */
bool probe_drop_privileges(const char *user, char *err, size_t errlen);

#endif
