/* test_writer_secrets.c: the writer's Decryption Secrets Block (probe -w
 * with its key log): reserved before the first packet, filled when the file
 * is done (also by a detached child, as the probe does it), read back by our
 * pcapng reader into a key log; whole lines only when the log is longer than
 * the room; refused once packets were written; absent unless reserved.  */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capture/capture.h"
#include "check.h"

static char dir[] = "/tmp/acrdiag-secrets-XXXXXX";

static const uint8_t raw[20] = { 0x45, 0, 0, 20, 0, 1, 0, 0, 64, 6, 0, 0, 198, 18, 1, 2, 198, 19, 10, 10 };

/* One TLS 1.3 line: a 32-byte client random and a 32-byte secret in hex. */
static void line(char *out, size_t len, unsigned i)
{
    snprintf(out, len, "CLIENT_TRAFFIC_SECRET_0 %064x %064x\n", i, i + 1000);
}

/* Reads the file through; returns the secrets its DSBs gave, -1 on error. */
static long secrets_of(const char *path, unsigned *packets)
{
    char err[256];
    struct cap_file *f = cap_file_open(path, err, sizeof(err));
    struct cap_keylog *k = cap_keylog_new();
    if (!f || !k) {
        cap_keylog_free(k);
        if (f)
            cap_file_close(f);
        return -1;
    }
    cap_file_set_keylog(f, k);
    struct cap_record r;
    *packets = 0;
    int rc;
    while ((rc = cap_file_next(f, &r, err, sizeof(err))) == 1)
        (*packets)++;
    long n = rc == 0 ? (long)cap_keylog_count(k) : -1;
    CHECK_EQ_INT(cap_keylog_skipped(k), 0);   /* the padding is blank lines, not garbage */
    cap_keylog_free(k);
    cap_file_close(f);
    return n;
}

static void filled_after_packets(void)
{
    char path[128], err[256], text[4 * 200] = "", l[200];
    snprintf(path, sizeof(path), "%s/keys.pcapng", dir);
    for (unsigned i = 0; i < 4; i++) {
        line(l, sizeof(l), i);
        strcat(text, l);
    }
    struct cap_writer *w = cap_writer_open(path, err, sizeof(err));
    CHECK(w != NULL);
    if (!w)
        return;
    CHECK_EQ_INT(cap_writer_reserve_secrets(w, 1022), 0);    /* rounded up to 1024 */
    CHECK_EQ_INT(cap_writer_reserve_secrets(w, 1024), -1);   /* one block */
    struct cap_record a = { .ts_ns = 1, .linktype = CAP_LT_RAW, .caplen = 20, .wirelen = 20, .data = raw };
    CHECK_EQ_INT(cap_writer_packet(w, &a, NULL), 0);
    CHECK_EQ_INT(cap_writer_secrets(w, text, strlen(text)), strlen(text));
    CHECK_EQ_INT(cap_writer_commit(w, err, sizeof(err)), 0);
    unsigned packets;
    CHECK_EQ_INT(secrets_of(path, &packets), 4);
    CHECK_EQ_INT(packets, 1);
    unlink(path);
}

static void cut_at_whole_lines(void)
{
    char path[128], err[256], text[40 * 200] = "", l[200];
    snprintf(path, sizeof(path), "%s/cut.pcapng", dir);
    for (unsigned i = 0; i < 40; i++) {
        line(l, sizeof(l), i);
        strcat(text, l);
    }
    size_t one = strlen(l);
    struct cap_writer *w = cap_writer_open(path, err, sizeof(err));
    CHECK(w != NULL);
    if (!w)
        return;
    /* Room for 3.5 lines: 3 are kept whole, none is cut in half. */
    size_t room = (one * 7 / 2 + 3) & ~(size_t)3;
    CHECK_EQ_INT(cap_writer_reserve_secrets(w, room), 0);
    CHECK_EQ_INT(cap_writer_secrets(w, text, strlen(text)), 3 * one);
    /* A detached writer (the probe's unprivileged child) fills the block;
     * the parent's commit of its own copy leaves it as it is.  */
    pid_t pid = fork();
    if (pid == 0)
        _exit(cap_writer_detach(w, err, sizeof(err)) == 0 ? 0 : 1);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_EQ_INT(cap_writer_commit(w, err, sizeof(err)), 0);
    unsigned packets;
    CHECK_EQ_INT(secrets_of(path, &packets), 3);
    unlink(path);
}

static void refused_and_absent(void)
{
    char path[128], err[256];
    snprintf(path, sizeof(path), "%s/none.pcapng", dir);
    struct cap_writer *w = cap_writer_open(path, err, sizeof(err));
    CHECK(w != NULL);
    if (!w)
        return;
    struct cap_record a = { .ts_ns = 1, .linktype = CAP_LT_RAW, .caplen = 20, .wirelen = 20, .data = raw };
    CHECK_EQ_INT(cap_writer_packet(w, &a, NULL), 0);
    /* After a packet the block would come too late for any reader. */
    CHECK_EQ_INT(cap_writer_reserve_secrets(w, 64), -1);
    CHECK_EQ_INT(cap_writer_reserve_secrets(w, 0), -1);
    CHECK_EQ_INT(cap_writer_secrets(w, "CLIENT_RANDOM x y\n", 18), 0);
    CHECK_EQ_INT(cap_writer_commit(w, err, sizeof(err)), 0);
    unsigned packets;
    CHECK_EQ_INT(secrets_of(path, &packets), 0);
    unlink(path);
    w = cap_writer_open(path, err, sizeof(err));
    CHECK(w != NULL);
    if (!w)
        return;
    CHECK_EQ_INT(cap_writer_reserve_secrets(w, LIM_WRITER_SECRETS + 4), -1);
    cap_writer_abort(w);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(filled_after_packets);
    RUN(cut_at_whole_lines);
    RUN(refused_and_absent);
    rmdir(dir);
    return check_summary();
}
