/* privdrop.c: acquire, then drop, verify, and fail hard (p0f drop_privs,
 * tcpdump droproot).  */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "probe.h"

bool probe_refuse_setuid(char *err, size_t errlen)
{
    if (getuid() != geteuid() || getgid() != getegid()) {
        snprintf(err, errlen, "refusing to run set-user-ID or set-group-ID; run it as root instead");
        return false;
    }
    return true;
}

bool probe_drop_privileges(const char *user, char *err, size_t errlen)
{
    if (geteuid() != 0)
        return true;
    if (!user)
        user = "nobody";
    errno = 0;
    const struct passwd *pw = getpwnam(user);
    if (!pw) {
        snprintf(err, errlen, "cannot drop privileges: no user %s", user);
        return false;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    if (uid == 0) {
        snprintf(err, errlen, "cannot drop privileges: user %s is root", user);
        return false;
    }
    if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0) {
        snprintf(err, errlen, "cannot drop privileges to %s: %s", user, strerror(errno));
        return false;
    }
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 || ru != uid || eu != uid ||
        su != uid || rg != gid || eg != gid || sg != gid) {
        snprintf(err, errlen, "privileges were not dropped to %s", user);
        return false;
    }
    /* Regaining root must fail now. */
    if (setuid(0) == 0 || seteuid(0) == 0) {
        snprintf(err, errlen, "root could be regained after dropping privileges");
        return false;
    }
    return true;
}
