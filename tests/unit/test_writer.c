/* test_writer.c: the pcapng writer round-trips through our reader, appears
 * only on commit, with mode 0600, and leaves nothing behind on abort.  */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/capture.h"
#include "check.h"

static char dir[] = "/tmp/acrdiag-writer-XXXXXX";

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

static void roundtrip(void)
{
    char path[128], err[256];
    snprintf(path, sizeof(path), "%s/out.pcapng", dir);
    struct cap_writer *w = cap_writer_open(path, err, sizeof(err));
    CHECK(w != NULL);
    if (!w)
        return;
    /* Raw IPv4 header of a 20-byte packet, then an Ethernet frame of 3 bytes. */
    static const uint8_t raw[20] = { 0x45, 0, 0, 20, 0, 1, 0, 0, 64, 6, 0, 0, 198, 18, 1, 2, 198, 19, 10, 10 };
    static const uint8_t eth[3] = { 1, 2, 3 };
    struct cap_record a = { .ts_ns = 1700000000123456789LL, .linktype = CAP_LT_RAW, .caplen = 20, .wirelen = 20, .data = raw };
    struct cap_record b = { .ts_ns = 1700000001000000000LL, .linktype = CAP_LT_ETHERNET, .caplen = 3, .wirelen = 60, .data = eth };
    CHECK_EQ_INT(cap_writer_packet(w, &a, "SYN probe 1"), 0);
    CHECK_EQ_INT(cap_writer_packet(w, &b, NULL), 0);
    CHECK_EQ_INT(cap_writer_note(w, "acrdiag-fact: http_status=401"), 0);
    CHECK(access(path, F_OK) != 0);         /* not there before the commit */
    CHECK_EQ_INT(cap_writer_commit(w, err, sizeof(err)), 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK_EQ_INT(files_in_dir(), 1);

    struct cap_file *f = cap_file_open(path, err, sizeof(err));
    CHECK(f != NULL);
    if (!f)
        return;
    struct cap_record r;
    CHECK_EQ_INT(cap_file_next(f, &r, err, sizeof(err)), 1);
    CHECK_EQ_INT(r.frame, 1);
    CHECK_EQ_INT(r.linktype, CAP_LT_RAW);
    CHECK_EQ_INT(r.ts_ns, 1700000000123456789LL);
    CHECK_EQ_INT(r.caplen, 20);
    CHECK(memcmp(r.data, raw, 20) == 0);
    CHECK_EQ_INT(cap_file_next(f, &r, err, sizeof(err)), 1);
    CHECK_EQ_INT(r.linktype, CAP_LT_ETHERNET);
    CHECK_EQ_INT(r.caplen, 3);
    CHECK_EQ_INT(r.wirelen, 60);
    CHECK_EQ_INT(cap_file_next(f, &r, err, sizeof(err)), 0);
    /* The note travels as a section comment, for analyze to read back. */
    const char *const *comments;
    CHECK_EQ_INT(cap_file_comments(f, &comments), 1);
    CHECK_EQ_STR(comments[0], "acrdiag-fact: http_status=401");
    cap_file_close(f);
    unlink(path);
}

/* A prober's facts all survive the file: the writer takes as many notes as
 * the reader keeps comments (LIM_FILE_COMMENTS), and refuses one more.  */
static void notes_as_many_as_the_reader_keeps(void)
{
    char path[128], err[256], note[64];
    snprintf(path, sizeof(path), "%s/notes.pcapng", dir);
    struct cap_writer *w = cap_writer_open(path, err, sizeof(err));
    CHECK(w != NULL);
    if (!w)
        return;
    for (unsigned i = 0; i < LIM_FILE_COMMENTS; i++) {
        snprintf(note, sizeof(note), "acrdiag-fact: n=%u", i);
        CHECK_EQ_INT(cap_writer_note(w, note), 0);
    }
    CHECK_EQ_INT(cap_writer_note(w, "acrdiag-fact: one too many"), -1);
    CHECK_EQ_INT(cap_writer_commit(w, err, sizeof(err)), 0);
    struct cap_file *f = cap_file_open(path, err, sizeof(err));
    CHECK(f != NULL);
    if (!f)
        return;
    struct cap_record r;
    CHECK_EQ_INT(cap_file_next(f, &r, err, sizeof(err)), 0);
    const char *const *comments;
    CHECK_EQ_INT(cap_file_comments(f, &comments), LIM_FILE_COMMENTS);
    snprintf(note, sizeof(note), "acrdiag-fact: n=%u", LIM_FILE_COMMENTS - 1);
    CHECK_EQ_STR(comments[LIM_FILE_COMMENTS - 1], note);
    cap_file_close(f);
    unlink(path);
}

static void abort_leaves_nothing(void)
{
    char path[128], err[256];
    snprintf(path, sizeof(path), "%s/aborted.pcapng", dir);
    struct cap_writer *w = cap_writer_open(path, err, sizeof(err));
    CHECK(w != NULL);
    cap_writer_abort(w);
    CHECK_EQ_INT(files_in_dir(), 0);
}

static void unwritable_directory(void)
{
    char err[256] = "";
    CHECK(cap_writer_open("/nonexistent-dir/x.pcapng", err, sizeof(err)) == NULL);
    CHECK(strstr(err, "/nonexistent-dir/x.pcapng") != NULL);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 2;
    RUN(roundtrip);
    RUN(notes_as_many_as_the_reader_keeps);
    RUN(abort_leaves_nothing);
    RUN(unwritable_directory);
    rmdir(dir);
    return check_summary();
}
