/* cli.h: what the command line's files share (acrdiag.c dispatches;
 * options.c parses; analyze.c and watch.c are the commands, runner.c runs
 * watch's -- COMMAND; evidence.c places evidence frames; report.c writes
 * the report; progress.c draws analyze's progress line).  */
#ifndef ACRDIAG_CLI_H
#define ACRDIAG_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "analysis/analysis.h"
#include "capture/capture.h"

enum format { FMT_TEXT, FMT_JSON, FMT_MARKDOWN, FMT_JSON_LINES };

struct cli {
    bool watch;
    enum format format;
    const char *output;
    int color;              /* -1 auto, 0 never, 1 always */
    struct an_options an;
    const char *client_log;     /* analyze --client-log */
    const char *keylog_path;    /* analyze --keylog */
    struct cap_keylog *keylog;  /* its secrets and those of the files' DSBs */
    unsigned threads;       /* analyze --threads: 1 or 2; 0: by each file's size */
    const char **files;     /* argv's, in command-line order; room for argc */
    unsigned n_files;
    /* watch */
    const char *iface;
    const char *write_path;
    const char *user;
    double duration, until_idle;    /* seconds; 0: not set */
    size_t buffer_bytes;    /* -B: the capture's kernel ring; 0: live.c's default */
    bool no_keys;           /* --no-keys: no SSLKEYLOGFILE for -w -- COMMAND */
    char **command;         /* watch -- COMMAND...: argv's words, or NULL */
};

/* ---- options.c ---------------------------------------------------------------- */

/* The help of one command ("analyze", "watch"), or of all (NULL). */
void cli_usage(const char *which);
/* Bad usage: one line on stderr; returns 2.  */
int cli_fail_usage(const char *msg, const char *arg);
/* cli_parse_options: the command is done and exits 0 (--help, --version). */
#define CLI_PARSE_DONE (-1)
/* Fills c from argv (c->watch says which command's options); c->files is
 * allocated (the caller frees it).  Returns 0, 2 after one line on stderr,
 * or CLI_PARSE_DONE.  */
int cli_parse_options(int argc, char **argv, struct cli *c);
/* The name of an input in messages. */
const char *cli_input_name(const char *path);

/* ---- the commands (analyze.c, watch.c): the exit status of verdicts.md ---- */

int cli_analyze(int argc, char **argv);
int cli_watch(int argc, char **argv);

/* ---- progress.c ------------------------------------------------------------- */

struct progress {
    bool tty;
    bool shown;
    int64_t start, last;
};

void progress_init(struct progress *p);
/* what: "reading"; file i of n. */
void progress_tick(struct progress *p, const char *what, unsigned i, unsigned n, const char *name,
                   uint64_t packets, uint64_t pos, uint64_t size);
void progress_done(struct progress *p);

/* ---- evidence.c ------------------------------------------------------------- */

/* What the read learned of each file: its frames, and its size when it is
 * a regular file (for the progress line and the choice of threads).  */
struct span {
    uint64_t first_frame, records;
    bool regular;
    off_t size;
};

/* Fills what span knows of the file at path, before it is read. */
void evidence_span_stat(struct span *sp, const char *path);

/* Every frame-carrying evidence and contradiction of a report, in frame
 * order (ev is allocated: free it).  */
struct cited {
    struct an_evidence **ev;
    size_t n;
};
bool evidence_collect(struct an_report *r, struct cited *out);

/* Names the file and the frame within it of every cited frame (the
 * engine gave each its time).  */
void evidence_locate(const struct cli *c, const struct span *spans, struct an_report *r);

/* ---- report.c --------------------------------------------------------------- */

/* The report in c's format; returns 0, or nonzero when writing failed. */
int report_write(const struct cli *c, FILE *out, const struct an_report *r);

/* Where the report goes.  A regular file (or a new name) is written to
 * NAME.tmp.XXXXXX beside it, then renamed: a reader never sees half a
 * report.  Anything else (a device, a FIFO, /dev/null, our own standard
 * output) is written in place: renaming over it would replace it.  A
 * symbolic link is never followed to replace what it points to.  */
struct output {
    const char *path;       /* as given; NULL: standard output */
    FILE *fp;
    int fd;
    bool atomic;
    char tmp[4096];
};

/* Opens the destination before any input is read, so a bad -o fails fast.
 * Returns 0, or 2 after one line on stderr.  */
int output_open(struct output *o, const char *path);
/* Abandons the output: a temporary file is removed, nothing is renamed. */
void output_abort(struct output *o);
/* Finishes the output after report_write returned wrc.  Returns 0, or 2
 * after one line on stderr naming the destination and errno's text.  */
int output_close(struct output *o, int wrc);

/* ---- runner.c: watch -- COMMAND ----------------------------------------------- */

/* The client command a watch runs: its stdout and stderr come to the
 * capture process through pipes, and a runner process (its parent) writes
 * "S" once it started, "E <why>" when it could not, and "X <status>" when
 * it ended.  */
struct watch_cmd {
    char **argv;            /* argv's words after --; never changed, never logged */
    pid_t runner;           /* 0: no command */
    const char *keylog_dir;     /* -w: the command's SSLKEYLOGFILE goes here (probe.h) */
    int out_fd, err_fd, status_fd;  /* read ends; -1 once closed */
};

struct an_client;

/* Starts the command (after the capture is open: packets wait in its
 * buffer).  Returns 0, or 2 after one line on stderr (a command that does
 * not exist, a user that cannot be taken).  */
int runner_start(struct watch_cmd *wc);
/* In the capture process: one read of a command pipe; output is passed
 * through to the terminal when pass (acrdiag's stderr: its stdout is the
 * report) and fed to the client-log matcher.  */
void runner_read_output(int *fd, struct an_client *cl, bool pass);
/* The runner's "X <status>" (or its end without one): *ended. */
void runner_read_status(struct watch_cmd *wc, struct an_client *cl, bool *ended);

#endif
