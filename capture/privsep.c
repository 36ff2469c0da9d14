/* privsep.c: privilege separation (privsep.h): acquire, then drop,
 * verify, and fail hard (p0f drop_privs, tcpdump droproot).  */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "privsep.h"

bool privsep_refuse_setuid(char *err, size_t errlen)
{
    if (getuid() != geteuid() || getgid() != getegid()) {
        snprintf(err, errlen, "refusing to run set-user-ID or set-group-ID; run it as root instead");
        return false;
    }
    return true;
}

bool privsep_drop(const char *user, char *err, size_t errlen)
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

static volatile sig_atomic_t child_pid;

static void forward_term(int sig)
{
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
}

int privsep_run_unprivileged(const char *user, int (*run)(void *arg), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "acrdiag: fork: %s\n", strerror(errno));
        return 2;
    }
    if (pid == 0) {
        char err[256];
        if (!privsep_drop(user, err, sizeof(err))) {
            fprintf(stderr, "acrdiag: %s\n", err);
            _exit(2);
        }
        int status = run(arg);
        fflush(NULL);
        exit(status);
    }
    child_pid = pid;
    struct sigaction ign = { .sa_handler = SIG_IGN }, fwd = { .sa_handler = forward_term };
    sigemptyset(&ign.sa_mask);
    sigemptyset(&fwd.sa_mask);
    sigaction(SIGINT, &ign, NULL);
    sigaction(SIGTERM, &fwd, NULL);
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "acrdiag: waitpid: %s\n", strerror(errno));
            return 2;
        }
    }
    child_pid = 0;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    fprintf(stderr, "acrdiag: the capture process died of signal %d\n", WTERMSIG(st));
    return 2;
}
