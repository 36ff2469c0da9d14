/* watch.c: `acrdiag watch`: a live capture while a push runs (or
 * -- COMMAND runs it), read by an unprivileged child through the feed
 * into the engine and the -w file, then the report.  */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "analysis/clientlog.h"
#include "analysis/feed.h"
#include "capture/privsep.h"
#include "capture/source.h"
#include "cli.h"
#include "probe/probe.h"

/* What the watch captures: DNS, the registry port (and 80), ICMP errors. */
#define WATCH_FILTER_FMT "port 53 or tcp port %d or tcp port 80 or icmp or icmp6"
/* The command's key log kept in the -w file: about 250 TLS 1.3 connections. */
#define WATCH_KEYLOG_ROOM (256u * 1024u)
#define WATCH_STATUS_ENDPOINTS 4

static volatile sig_atomic_t watch_stop;

static void on_stop_signal(int sig)
{
    watch_stop = sig;
}

static int64_t now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Connections seen so far per server endpoint, for the live status line. */
struct watch_status {
    struct cap_addr ip[WATCH_STATUS_ENDPOINTS];
    unsigned syns[WATCH_STATUS_ENDPOINTS], synacks[WATCH_STATUS_ENDPOINTS];
    unsigned rsts[WATCH_STATUS_ENDPOINTS], retrans[WATCH_STATUS_ENDPOINTS];
    unsigned n;
    uint64_t packets;
};

static int status_slot(struct watch_status *st, const struct cap_addr *a)
{
    for (unsigned i = 0; i < st->n; i++)
        if (cap_addr_eq(&st->ip[i], a))
            return (int)i;
    if (st->n >= WATCH_STATUS_ENDPOINTS)
        return -1;
    st->ip[st->n] = *a;
    return (int)st->n++;
}

/* Returns true when the packet belongs to a watched connection. */
static bool status_update(struct watch_status *st, const struct cap_pkt *p, int port)
{
    st->packets++;
    if (p->proto != CAP_IPPROTO_TCP || (p->dport != port && p->sport != port))
        return false;
    bool to_server = p->dport == port;
    int i = status_slot(st, to_server ? &p->dst : &p->src);
    if (i < 0)
        return true;
    uint8_t fl = p->tcp_flags;
    if ((fl & (CAP_TH_SYN | CAP_TH_ACK)) == CAP_TH_SYN)
        st->syns[i]++;
    else if ((fl & (CAP_TH_SYN | CAP_TH_ACK)) == (CAP_TH_SYN | CAP_TH_ACK))
        st->synacks[i]++;
    if (fl & CAP_TH_RST)
        st->rsts[i]++;
    /* SYNs beyond the SYN-ACKs are retransmissions of unanswered attempts. */
    st->retrans[i] = st->syns[i] > st->synacks[i] ? st->syns[i] - st->synacks[i] : 0;
    return true;
}

static void status_print(const struct watch_status *st, double elapsed)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "\r[%5.1f s] %llu packets", elapsed, (unsigned long long)st->packets);
    for (unsigned i = 0; i < st->n && n > 0 && (size_t)n < sizeof(line); i++) {
        char ip[64];
        cap_addr_str(&st->ip[i], ip, sizeof(ip));
        const char *state = st->rsts[i] ? "reset" : st->retrans[i] ? "retransmitting"
                            : st->synacks[i] ? "established" : "handshaking";
        n += snprintf(line + n, sizeof(line) - (size_t)n, " | %s: %u conn, %s", ip,
                      st->syns[i] > st->synacks[i] ? st->syns[i] : st->synacks[i], state);
    }
    fprintf(stderr, "%s\033[K", line);
}

struct watch_ctx {
    struct cli *c;
    struct cap_live *live;
    struct cap_writer *writer;
    struct watch_cmd *cmd;      /* watch -- COMMAND, or NULL */
    struct watch_status st;
    bool activity;              /* a watched connection's packet since last looked */
};

/* The feed's view of each packet: every one is kept; the status line counts it. */
static bool watch_keep(void *arg, const struct cap_pkt *pkt)
{
    struct watch_ctx *w = arg;
    if (status_update(&w->st, pkt, w->c->an.port))
        w->activity = true;
    return true;
}

/* The last packets: the capture hands a block over when it is full or
 * at the latest CAP_LIVE_TIMEOUT_MS after it was begun, so a block still
 * filling when the watch stops is read after waiting that long (twice the
 * timeout, after a Ctrl-C too).  What the kernel holds was captured before
 * the stop and is read whole, bounded by 1000 reads of 4096 (a 1 GiB -B
 * holds about 2.6 million packets of the bench mix).  Returns whether it
 * failed.  */
static bool drain(struct an_feed *feed, int fd)
{
    int64_t until = now_ns(CLOCK_MONOTONIC) + 2 * CAP_LIVE_TIMEOUT_MS * 1000000LL;
    for (unsigned turn = 0; turn < 1000; turn++) {
        enum an_feed_status fs = an_feed_pump(feed, 4096);
        if (fs == AN_FEED_ERROR || fs == AN_FEED_WRITE_FAILED)
            return true;
        if (fs == AN_FEED_MORE)
            continue;
        int64_t left = until - now_ns(CLOCK_MONOTONIC);
        if (left <= 0)
            break;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        poll(&pfd, 1, (int)(left / 1000000) + 1);
    }
    return false;
}

/* The unprivileged part: capture until told to stop, then report. */
static int watch_run(void *arg)
{
    struct watch_ctx *w = arg;
    struct cli *c = w->c;
    struct sigaction sa = { .sa_handler = on_stop_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct an_engine *e = an_engine_new(&c->an);
    if (!e) {
        fprintf(stderr, "acrdiag: out of memory\n");
        return 2;
    }
    bool tty = isatty(2);
    struct cap_source src = cap_live_source(w->live);
    struct an_feed feed = { .src = &src, .engine = e, .writer = w->writer, .write_path = c->write_path,
                            .who = "acrdiag", .keep = watch_keep, .keep_arg = w };
    int64_t start = now_ns(CLOCK_MONOTONIC), last_activity = start, last_status = 0;
    bool seen_watched = false;
    int failure = 0;
    struct pollfd pfd[4] = { { .fd = cap_source_fd(&src), .events = POLLIN } };
    /* watch -- COMMAND: its output, and the end of it. */
    struct watch_cmd *wc = w->cmd;
    struct an_client *cl = NULL;
    bool cmd_ended = false;
    int64_t cmd_done_at = 0;
    if (wc && wc->runner) {
        cl = malloc(sizeof(*cl));
        if (!cl) {
            fprintf(stderr, "acrdiag: out of memory\n");
            an_engine_free(e);
            return 2;
        }
        const char *base = strrchr(wc->argv[0], '/');
        cl_init(cl, base ? base + 1 : wc->argv[0], true);
    }

    while (!watch_stop && !failure) {
        nfds_t nfds = 1;
        int *cfd[3] = { NULL, NULL, NULL };
        if (cl) {
            int *fds[3] = { &wc->out_fd, &wc->err_fd, &wc->status_fd };
            for (int k = 0; k < 3; k++) {
                if (*fds[k] < 0)
                    continue;
                pfd[nfds] = (struct pollfd){ .fd = *fds[k], .events = POLLIN };
                cfd[nfds - 1] = fds[k];
                nfds++;
            }
        }
        poll(pfd, nfds, 200);
        for (nfds_t k = 1; k < nfds; k++) {
            if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (cfd[k - 1] == &wc->status_fd)
                runner_read_status(wc, cl, &cmd_ended);
            else
                runner_read_output(cfd[k - 1], cl, true);
        }
        /* A write that fails ends the watch: the file asked for cannot be
         * had (the feed said so); the report still comes.  */
        enum an_feed_status fs = an_feed_pump(&feed, 4096);
        failure = fs == AN_FEED_ERROR || fs == AN_FEED_WRITE_FAILED;
        int64_t now = now_ns(CLOCK_MONOTONIC);
        if (w->activity) {
            w->activity = false;
            seen_watched = true;
            last_activity = now;
        }
        if (c->duration > 0 && now - start >= (int64_t)(c->duration * 1e9))
            break;
        /* The command ended and its output is read: the last packets get
         * half a second to arrive, then the watch stops.  */
        if (cl && cmd_ended && wc->out_fd < 0 && wc->err_fd < 0) {
            if (!cmd_done_at)
                cmd_done_at = now;
            else if (now - cmd_done_at >= 500000000LL)
                break;
        }
        if (c->until_idle > 0 && seen_watched && now - last_activity >= (int64_t)(c->until_idle * 1e9))
            break;
        if (tty && now - last_status >= 250000000LL) {
            status_print(&w->st, (double)(now - start) / 1e9);
            last_status = now;
        }
    }
    if (!failure)
        failure = drain(&feed, cap_source_fd(&src));
    if (tty)
        fputs("\r\033[K", stderr);
    if (failure && !feed.write_failed)
        fprintf(stderr, "acrdiag: %s\n", feed.err);

    an_engine_set_end(e, now_ns(CLOCK_REALTIME));
    struct an_report r;
    an_engine_finish(e, "watch", &r);
    an_engine_free(e);
    an_feed_drops(&feed, &r);
    cap_source_close(&src);
    r.options = &c->an;
    r.capture.n_files = 1;
    r.capture.files[0] = c->write_path ? c->write_path : "live capture (not kept)";
    if (cl) {
        /* Output still buffered in the pipes, then the client's words. */
        for (int k = 0; k < 64 && (wc->out_fd >= 0 || wc->err_fd >= 0); k++) {
            struct pollfd q[2] = { { .fd = wc->out_fd, .events = POLLIN }, { .fd = wc->err_fd, .events = POLLIN } };
            if (poll(q, 2, 0) <= 0)
                break;
            if (q[0].revents)
                runner_read_output(&wc->out_fd, cl, true);
            if (q[1].revents)
                runner_read_output(&wc->err_fd, cl, true);
        }
        if (!cmd_ended && wc->status_fd >= 0 && poll(&(struct pollfd){ .fd = wc->status_fd, .events = POLLIN }, 1, 0) > 0)
            runner_read_status(wc, cl, &cmd_ended);
        cl->still_running = !cl->has_exit;
        cl_end(cl);
        cl_apply(cl, &r);
    }
    if (c->write_path) {
        /* Every packet seen is written: the frames are the kept file's. */
        struct cited ci;
        if (evidence_collect(&r, &ci)) {
            for (size_t k = 0; k < ci.n; k++) {
                ci.ev[k]->file = c->write_path;
                ci.ev[k]->frame_in_file = ci.ev[k]->frame;
            }
            free(ci.ev);
        }
    }
    int status = an_feed_detach(&feed, an_exit_status(r.verdict));
    if (report_write(c, stdout, &r) != 0 || fflush(stdout) != 0)
        status = 2;
    an_report_free(&r);
    free(cl);
    return failure ? 2 : status;
}

int cli_watch(int argc, char **argv)
{
    struct cli c = { .watch = true, .format = FMT_TEXT, .color = -1, .an = { .port = 443 } };
    int rc = cli_parse_options(argc, argv, &c);
    free(c.files);      /* watch reads no file */
    c.files = NULL;
    if (rc)
        return rc == CLI_PARSE_DONE ? 0 : rc;
    char err[256], filter[256];
    if (!privsep_refuse_setuid(err, sizeof(err))) {
        fprintf(stderr, "acrdiag: %s\n", err);
        return 2;
    }
    snprintf(filter, sizeof(filter), WATCH_FILTER_FMT, c.an.port);
    probe_proxy_watch_filter(filter, sizeof(filter));
    struct watch_ctx w = { .c = &c };
    /* Everything privileged is opened first: the capture, the output file. */
    /* Buffered: a block at a time, a quarter of immediate mode's CPU a
     * packet under load; nothing watch waits for is that prompt.  */
    struct cap_live_opts lo = { .iface = c.iface, .bpf = filter, .buffer_bytes = c.buffer_bytes, .buffered = true };
    w.live = cap_live_open(&lo, err, sizeof(err));
    if (!w.live) {
        fprintf(stderr, "acrdiag: cannot capture (watch needs root): %s\n", err);
        return 2;
    }
    if (c.write_path) {
        w.writer = cap_writer_open(c.write_path, err, sizeof(err));
        if (!w.writer) {
            fprintf(stderr, "acrdiag: %s\n", err);
            cap_live_close(w.live);
            return 2;
        }
    }
    struct watch_cmd wc = { .argv = c.command, .out_fd = -1, .err_fd = -1, .status_fd = -1 };
    /* The command's TLS secrets into the file, as probe -w does its own. */
    char keylog_dir[64];
    err[0] = '\0';
    if (c.command && w.writer && !c.no_keys) {
        if (cap_writer_reserve_secrets(w.writer, WATCH_KEYLOG_ROOM) == 0 &&
            probe_keylog_dir_make(keylog_dir, sizeof(keylog_dir), err, sizeof(err)))
            wc.keylog_dir = keylog_dir;
        else
            fprintf(stderr, "acrdiag: warning: the capture will hold no TLS secrets%s%s\n", err[0] ? ": " : "", err);
    }
    if (c.command) {
        if (runner_start(&wc) != 0) {
            if (w.writer)
                cap_writer_abort(w.writer);
            if (wc.keylog_dir)
                probe_keylog_take(wc.keylog_dir, NULL);
            cap_live_close(w.live);
            return 2;
        }
        w.cmd = &wc;
    }
    int status = privsep_run_unprivileged(c.user, watch_run, &w);
    if (wc.runner) {
        /* The capture process has the pipes now; a command still running
         * (--duration, Ctrl-C, SIGTERM) is ended through its runner.  */
        close(wc.out_fd);
        close(wc.err_fd);
        close(wc.status_fd);
        if (waitpid(wc.runner, NULL, WNOHANG) == 0) {
            kill(wc.runner, SIGTERM);
            for (int k = 0; k < 50 && waitpid(wc.runner, NULL, WNOHANG) == 0; k++)
                usleep(100000);
            if (waitpid(wc.runner, NULL, WNOHANG) == 0) {
                kill(wc.runner, SIGKILL);
                waitpid(wc.runner, NULL, 0);
            }
        }
    }
    if (wc.keylog_dir)
        probe_keylog_take(wc.keylog_dir, an_feed_keeps_file(status) ? w.writer : NULL);
    /* Only this (privileged) parent may rename into the directory. */
    status = an_feed_commit(w.writer, status, "acrdiag");
    cap_live_close(w.live);
    return status;
}

