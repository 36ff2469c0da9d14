/* test_feed.c: the one feeding loop (analysis/feed.c) over a record source
 * made up here: frames count only the packets kept, a live source's idle
 * and a source's error come back as such, a write that fails is said once
 * and its file is never put in place, only a report's exit status keeps a
 * file, and kernel drops are the finding with one line.  */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analysis/feed.h"
#include "check.h"

static char dir[] = "/tmp/acrdiag-feed-XXXXXX";

/* ---- a source made up of raw IPv4 TCP packets -------------------------------- */

#define PKT_MAX 1500

struct fake {
    unsigned n, next;           /* records in all, the next one to hand out */
    uint16_t len;               /* bytes of each packet */
    uint32_t linktype;          /* 0: raw IP */
    bool live;                  /* after the last: IDLE (live) or END (a file) */
    bool fail;                  /* after the last: an error */
    uint64_t dropped;
    uint8_t buf[PKT_MAX];
};

/* Packet i: 198.18.1.2 -> 198.19.10.10, client port 40000 + i, to 443. */
static void fake_packet(struct fake *f, unsigned i)
{
    uint8_t *p = f->buf;
    memset(p, 0, f->len);
    p[0] = 0x45;
    p[2] = (uint8_t)(f->len >> 8);
    p[3] = (uint8_t)f->len;
    p[8] = 64;
    p[9] = CAP_IPPROTO_TCP;
    memcpy(p + 12, (const uint8_t[]){ 198, 18, 1, 2, 198, 19, 10, 10 }, 8);
    uint16_t sport = (uint16_t)(40000 + i);
    p[20] = (uint8_t)(sport >> 8);
    p[21] = (uint8_t)sport;
    p[22] = 443 >> 8;
    p[23] = 443 & 0xff;
    p[32] = 5 << 4;             /* data offset: 20 bytes */
    p[33] = CAP_TH_ACK;
}

static enum cap_source_status fake_next(void *impl, struct cap_record *rec, char *errbuf, size_t errlen)
{
    struct fake *f = impl;
    if (f->next >= f->n) {
        if (f->fail) {
            snprintf(errbuf, errlen, "made-up failure");
            return CAP_SOURCE_ERROR;
        }
        return f->live ? CAP_SOURCE_IDLE : CAP_SOURCE_END;
    }
    fake_packet(f, f->next);
    *rec = (struct cap_record){ .frame = 1000 + f->next, .ts_ns = 1700000000000000000LL + f->next,
                                .linktype = f->linktype ? f->linktype : CAP_LT_RAW, .caplen = f->len, .wirelen = f->len, .data = f->buf };
    f->next++;
    return CAP_SOURCE_RECORD;
}

static int fake_fd(const void *impl)
{
    (void)impl;
    return -1;
}

static void fake_stats(void *impl, struct cap_source_stats *out)
{
    const struct fake *f = impl;
    *out = (struct cap_source_stats){ .records = f->next, .dropped = f->dropped };
}

static void fake_close(void *impl)
{
    (void)impl;
}

static const struct cap_source_ops fake_ops = { fake_next, fake_fd, fake_stats, fake_close };

/* ---- helpers ------------------------------------------------------------------- */

static unsigned files_in_dir(void)
{
    unsigned n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* Packets in a capture file. */
static unsigned packets_in(const char *path)
{
    char err[256];
    struct cap_file *f = cap_file_open(path, err, sizeof(err));
    if (!f)
        return 0;
    struct cap_record rec;
    unsigned n = 0;
    while (cap_file_next(f, &rec, err, sizeof(err)) == 1)
        n++;
    cap_file_close(f);
    return n;
}

/* Runs fn with stderr into a file; returns how many lines hold `needle`. */
static unsigned stderr_lines_with(void (*fn)(void *), void *arg, const char *needle)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/stderr", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    int saved = dup(2);
    fflush(stderr);
    dup2(fd, 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char text[4096];
    ssize_t len = pread(fd, text, sizeof(text) - 1, 0);
    close(fd);
    unlink(path);
    text[len > 0 ? len : 0] = '\0';
    unsigned n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        n += strstr(line, needle) != NULL;
    return n;
}

static struct an_engine *engine(void)
{
    static struct an_options opt = { .port = 443 };
    return an_engine_new(&opt);
}

/* ---- tests ------------------------------------------------------------------- */

/* Keeps every other packet: client ports 40000, 40002, ... */
static bool keep_even(void *arg, const struct cap_pkt *pkt)
{
    (*(unsigned *)arg)++;
    return pkt->sport % 2 == 0;
}

static void frames_count_the_packets_kept(void)
{
    char path[128], err[256];
    snprintf(path, sizeof(path), "%s/kept.pcapng", dir);
    struct cap_writer *w = cap_writer_open(path, err, sizeof(err));
    struct fake fk = { .n = 7, .len = 60 };
    struct cap_source src = { &fake_ops, &fk };
    unsigned seen = 0;
    struct an_feed f = { .src = &src, .engine = engine(), .writer = w, .write_path = path, .who = "test",
                         .keep = keep_even, .keep_arg = &seen };
    CHECK_EQ_INT(an_feed_pump(&f, 3), AN_FEED_MORE);    /* bounded per call */
    CHECK_EQ_INT(f.records, 3);
    CHECK_EQ_INT(an_feed_pump(&f, 100), AN_FEED_END);
    CHECK_EQ_INT(f.records, 7);
    CHECK_EQ_INT(seen, 7);
    CHECK_EQ_INT(f.kept, 4);
    CHECK_EQ_INT(f.next_frame, 5);      /* the source's own numbers (1000...) are not the file's */
    CHECK_EQ_INT(f.undecodable, 0);
    CHECK_EQ_INT(an_feed_commit(w, 1, "test"), 1);
    CHECK_EQ_INT(packets_in(path), 4);
    an_engine_free(f.engine);
    unlink(path);
}

static void idle_and_error_come_back(void)
{
    struct fake live = { .n = 2, .len = 60, .live = true };
    struct cap_source src = { &fake_ops, &live };
    struct an_feed f = { .src = &src, .engine = engine(), .who = "test" };
    CHECK_EQ_INT(an_feed_pump(&f, 100), AN_FEED_IDLE);
    CHECK_EQ_INT(f.kept, 2);
    struct fake broken = { .n = 1, .len = 60, .fail = true };
    src.impl = &broken;
    CHECK_EQ_INT(an_feed_pump(&f, 100), AN_FEED_ERROR);
    CHECK_EQ_STR(f.err, "made-up failure");
    CHECK_EQ_INT(f.next_frame, 4);      /* numbering runs on over a second source */
    an_engine_free(f.engine);
}

static void undecodable_link_type_counted(void)
{
    /* The same bytes under a link type nothing decodes (LINKTYPE_USER0). */
    struct fake fk = { .n = 3, .len = 60, .linktype = 147 };
    struct cap_source src = { &fake_ops, &fk };
    struct an_feed f = { .src = &src, .engine = engine(), .who = "test" };
    CHECK_EQ_INT(an_feed_pump(&f, 100), AN_FEED_END);
    CHECK_EQ_INT(f.undecodable, 3);
    CHECK_EQ_INT(f.undecodable_linktype, 147);
    an_engine_free(f.engine);
}

/* The write that fails, as watch and probe meet it: the unprivileged child
 * feeds and detaches under a file size limit, the parent commits.  */
struct write_case {
    char path[128];
    int child_status;
};

static void write_fails_in_child(void *arg)
{
    struct write_case *wc = arg;
    char err[256];
    struct cap_writer *w = cap_writer_open(wc->path, err, sizeof(err));
    if (!w) {
        wc->child_status = -1;
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* 16 KiB: the SHB fits, a hundred 1400-byte packets do not. */
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl;
        getrlimit(RLIMIT_FSIZE, &rl);
        rl.rlim_cur = 16384;
        setrlimit(RLIMIT_FSIZE, &rl);
        struct fake fk = { .n = 100, .len = 1400 };
        struct cap_source src = { &fake_ops, &fk };
        struct an_feed f = { .src = &src, .engine = engine(), .writer = w, .write_path = wc->path, .who = "test" };
        int failed_at = 0;
        enum an_feed_status st;
        while ((st = an_feed_pump(&f, 10)) != AN_FEED_END)
            if (st == AN_FEED_WRITE_FAILED && !failed_at)
                failed_at = (int)f.records;
        /* The engine still had every packet; the writer no more after the failure. */
        int ok = failed_at > 0 && failed_at < 100 && f.kept == 100 && f.write_failed;
        int status = an_feed_detach(&f, 1);
        an_engine_free(f.engine);
        _exit(ok && status == 2 ? 2 : 99);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    wc->child_status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    wc->child_status = an_feed_commit(w, wc->child_status, "test");
}

static void failed_write_said_once_file_not_kept(void)
{
    struct write_case wc;
    snprintf(wc.path, sizeof(wc.path), "%s/full.pcapng", dir);
    CHECK_EQ_INT(stderr_lines_with(write_fails_in_child, &wc, "write failed"), 1);
    CHECK_EQ_INT(wc.child_status, 2);
    CHECK_EQ_INT(files_in_dir(), 0);    /* neither the file nor its temporary */
}

static void only_a_report_keeps_the_file(void)
{
    CHECK(an_feed_keeps_file(0) && an_feed_keeps_file(1) && an_feed_keeps_file(3));
    CHECK(!an_feed_keeps_file(2) && !an_feed_keeps_file(99));
    char path[128], err[256];
    snprintf(path, sizeof(path), "%s/kept.pcapng", dir);
    struct cap_writer *w = cap_writer_open(path, err, sizeof(err));
    CHECK_EQ_INT(an_feed_commit(w, 3, "test"), 3);
    CHECK_EQ_INT(files_in_dir(), 1);
    unlink(path);
    w = cap_writer_open(path, err, sizeof(err));
    CHECK_EQ_INT(an_feed_commit(w, 2, "test"), 2);
    CHECK_EQ_INT(files_in_dir(), 0);
    CHECK_EQ_INT(an_feed_commit(NULL, 1, "test"), 1);
}

struct drops_case {
    struct an_feed *f;
    struct an_report *r;
};

static void report_drops(void *arg)
{
    struct drops_case *dc = arg;
    an_feed_drops(dc->f, dc->r);
}

static void kernel_drops_are_the_finding_and_one_line(void)
{
    struct fake fk = { .n = 5, .len = 60, .live = true, .dropped = 7 };
    struct cap_source src = { &fake_ops, &fk };
    struct an_feed f = { .src = &src, .engine = engine(), .who = "test" };
    CHECK_EQ_INT(an_feed_pump(&f, 100), AN_FEED_IDLE);
    struct an_report r = { 0 };
    struct drops_case dc = { &f, &r };
    CHECK_EQ_INT(stderr_lines_with(report_drops, &dc, "dropped 7 packets (capture buffer full), 5 were read"), 1);
    CHECK(r.findings & (1u << AN_F_KERNEL_DROPS));
    fk.dropped = 0;
    r.findings = 0;
    CHECK_EQ_INT(stderr_lines_with(report_drops, &dc, "dropped"), 0);
    CHECK(!(r.findings & (1u << AN_F_KERNEL_DROPS)));
    an_engine_free(f.engine);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 2;
    RUN(frames_count_the_packets_kept);
    RUN(idle_and_error_come_back);
    RUN(undecodable_link_type_counted);
    RUN(failed_write_said_once_file_not_kept);
    RUN(only_a_report_keeps_the_file);
    RUN(kernel_drops_are_the_finding_and_one_line);
    rmdir(dir);
    return check_summary();
}
