/* runner.c: watch -- COMMAND: the push client runs as the invoking user
 * under a runner process while watch captures; its output and its end
 * come back through pipes.  */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analysis/clientlog.h"
#include "cli.h"
#include "probe/probe.h"

static volatile sig_atomic_t runner_child;

static void runner_forward(int sig)
{
    if (runner_child > 0)
        kill((pid_t)runner_child, sig);
}

/* In the runner: as the invoking user when run under sudo (SUDO_UID and
 * SUDO_GID), with that user's groups, HOME, USER and LOGNAME (the client's
 * credentials live in that home); as the caller otherwise.  */
static bool become_invoking_user(char *err, size_t errlen)
{
    const char *su = getenv("SUDO_UID"), *sg = getenv("SUDO_GID");
    if (getuid() != 0 || !su || !*su || !sg || !*sg)
        return true;
    char *e1, *e2;
    unsigned long uid = strtoul(su, &e1, 10), gid = strtoul(sg, &e2, 10);
    if (*e1 || *e2 || uid == 0 || uid > 0x7fffffffUL || gid > 0x7fffffffUL) {
        snprintf(err, errlen, "SUDO_UID/SUDO_GID are not user and group numbers");
        return false;
    }
    struct passwd *pw = getpwuid((uid_t)uid);
    if (pw ? initgroups(pw->pw_name, (gid_t)gid) != 0 : setgroups(0, NULL) != 0) {
        snprintf(err, errlen, "cannot take the groups of user %lu: %s", uid, strerror(errno));
        return false;
    }
    if (setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) != 0 || setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) != 0 ||
        setuid(0) == 0) {
        snprintf(err, errlen, "cannot become user %lu: %s", uid, strerror(errno));
        return false;
    }
    if (pw) {
        setenv("HOME", pw->pw_dir, 1);
        setenv("USER", pw->pw_name, 1);
        setenv("LOGNAME", pw->pw_name, 1);
    }
    return true;
}

/* Closes every descriptor from 3 up but the three kept: the runner runs as
 * the invoking user, and neither it nor the command may hold the capture's
 * socket or the capture file.  */
static void close_other_fds(int keep1, int keep2, int keep3)
{
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (int fd = 3; fd < max; fd++)
        if (fd != keep1 && fd != keep2 && fd != keep3)
            close(fd);
}

/* The runner process: starts the command, reports, waits for it. */
static void runner_main(char **argv, const char *keylog_dir, int out_w, int err_w, int st_w)
{
    char err[256];
    close_other_fds(out_w, err_w, st_w);
    struct sigaction ign = { .sa_handler = SIG_IGN }, fwd = { .sa_handler = runner_forward };
    sigemptyset(&ign.sa_mask);
    sigemptyset(&fwd.sa_mask);
    /* Ctrl-C reaches the command itself (same process group); the runner
     * stays to tell how it ended.  SIGTERM from acrdiag is passed on.  */
    sigaction(SIGINT, &ign, NULL);
    sigaction(SIGTERM, &fwd, NULL);
    if (!become_invoking_user(err, sizeof(err))) {
        dprintf(st_w, "E %s\n", err);
        _exit(0);
    }
    int ex[2];
    if (pipe2(ex, O_CLOEXEC) != 0) {
        dprintf(st_w, "E pipe: %s\n", strerror(errno));
        _exit(0);
    }
    pid_t pid = fork();
    if (pid < 0) {
        dprintf(st_w, "E fork: %s\n", strerror(errno));
        _exit(0);
    }
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        if (dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0)
            _exit(127);
        char keylog[PATH_MAX];
        if (keylog_dir && snprintf(keylog, sizeof(keylog), "%s/" PROBE_KEYLOG_NAME, keylog_dir) > 0)
            setenv("SSLKEYLOGFILE", keylog, 1);
        execvp(argv[0], argv);
        int e = errno;
        if (write(ex[1], &e, sizeof(e)) < 0)
            _exit(127);
        _exit(127);
    }
    runner_child = pid;
    close(ex[1]);
    close(out_w);
    close(err_w);
    int e;
    ssize_t n;
    while ((n = read(ex[0], &e, sizeof(e))) < 0 && errno == EINTR)
        ;
    if (n == (ssize_t)sizeof(e)) {
        dprintf(st_w, "E %s\n", strerror(e));
        waitpid(pid, NULL, 0);
        _exit(0);
    }
    dprintf(st_w, "S\n");
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            _exit(0);
    dprintf(st_w, "X %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    _exit(0);
}

int runner_start(struct watch_cmd *wc)
{
    int out[2], errp[2], st[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0 || pipe2(st, O_CLOEXEC) != 0) {
        fprintf(stderr, "acrdiag: pipe: %s\n", strerror(errno));
        return 2;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "acrdiag: fork: %s\n", strerror(errno));
        return 2;
    }
    if (pid == 0) {
        close(out[0]);
        close(errp[0]);
        close(st[0]);
        runner_main(wc->argv, wc->keylog_dir, out[1], errp[1], st[1]);
    }
    close(out[1]);
    close(errp[1]);
    close(st[1]);
    wc->runner = pid;
    wc->out_fd = out[0];
    wc->err_fd = errp[0];
    wc->status_fd = st[0];
    /* The first word: started, or why not. */
    char line[300];
    size_t n = 0;
    while (n + 1 < sizeof(line)) {
        ssize_t k = read(wc->status_fd, &line[n], 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0 || line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    if (strcmp(line, "S") == 0)
        return 0;
    /* The name as given, made safe for a terminal. */
    char name[80];
    size_t k = 0;
    for (const char *p = wc->argv[0]; *p && k + 1 < sizeof(name); p++)
        name[k++] = *p >= 0x20 && *p < 0x7f ? *p : '?';
    name[k] = '\0';
    fprintf(stderr, "acrdiag: cannot run %s: %s\n", name, line[0] == 'E' && line[1] ? line + 2 : "the runner ended");
    close(wc->out_fd);
    close(wc->err_fd);
    close(wc->status_fd);
    waitpid(pid, NULL, 0);
    wc->runner = 0;
    return 2;
}

void runner_read_output(int *fd, struct an_client *cl, bool pass)
{
    char buf[8192];
    ssize_t n = read(*fd, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        close(*fd);
        *fd = -1;
        return;
    }
    if (pass) {
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(2, buf + off, (size_t)(n - off));
            if (w <= 0)
                break;
            off += w;
        }
    }
    cl_feed(cl, buf, (size_t)n);
}

void runner_read_status(struct watch_cmd *wc, struct an_client *cl, bool *ended)
{
    char buf[64];
    ssize_t n = read(wc->status_fd, buf, sizeof(buf) - 1);
    if (n < 0 && errno == EINTR)
        return;
    if (n > 0) {
        buf[n] = '\0';
        char *x = strstr(buf, "X ");
        if (x) {
            cl->has_exit = true;
            cl->exit_status = atoi(x + 2);
            *ended = true;
        }
        return;
    }
    close(wc->status_fd);
    wc->status_fd = -1;
    *ended = true;
}
