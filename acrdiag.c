/* acrdiag.c: the command line: tells why pushes to Azure Container Registry
 * fail, and proves it with packets.  */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "analysis/analysis.h"
#include "analysis/clientlog.h"
#include "capture/capture.h"
#include "capture/privsep.h"
#include "probe/probe.h"

static const char usage_head[] =
    "usage: acrdiag analyze [options] FILE...\n"
    "       acrdiag watch [options] [-i IFACE] [--duration S] [--until-idle S] [-w FILE]\n"
    "       acrdiag watch [options] -- COMMAND [ARG...]\n"
    "       acrdiag probe [options] NAME      (see acrdiag probe --help)\n"
    "       acrdiag --version | --help\n"
    "\n"
    "Commands:\n"
    "  analyze FILE...        read pcap/pcapng captures (several files are read in\n"
    "                         order as one capture) and print a verdict per endpoint\n"
    "  probe NAME             actively test a registry (root): DNS, TCP, TLS, /v2/,\n"
    "                         differential and TTL probes; verdict with evidence\n"
    "  watch                  capture while a push runs (root), stop on Ctrl-C,\n"
    "                         SIGTERM, --duration or --until-idle, then report\n"
    "\n"
    "Options go anywhere after the command; -- ends them.\n";

static const char usage_analyze[] =
    "usage: acrdiag analyze [options] FILE...\n"
    "  FILE                   pcap or pcapng, also gzip, zstd or xz compressed (told\n"
    "                         by the magic bytes); - or /dev/stdin: standard input;\n"
    "                         several files are read in order as one capture\n"
    "                         (a ring of any length, one file open at a time)\n"
    "  -r, --read FILE        the same as naming FILE (tcpdump's habit)\n"
    "  --client-log FILE      what the push client printed (docker, podman, skopeo,\n"
    "                         oras, az): its lines that name a known failure go\n"
    "                         beside the wire's verdict; with it, FILE... may be\n"
    "                         left out\n"
    "  --keylog FILE          TLS secrets in the NSS key log format (SSLKEYLOGFILE):\n"
    "                         the registry's HTTP answers are decrypted (pcapng\n"
    "                         Decryption Secrets Blocks are read as well)\n"
    "  -o, --output FILE      write the report to FILE instead of standard output: a\n"
    "                         regular file is replaced atomically (mode 0666 less the\n"
    "                         umask), a device or FIFO is written in place; - is\n"
    "                         standard output\n";

static const char usage_watch[] =
    "usage: acrdiag watch [options] [-i IFACE] [--duration S] [--until-idle S] [-w FILE]\n"
    "  -i, --interface IFACE  interface to capture on (default: any)\n"
    "  --duration S           stop after S seconds\n"
    "  --until-idle S         stop when the watched connections were idle for S seconds\n"
    "  -w, --write FILE       keep the capture (pcapng, mode 0600, written atomically)\n"
    "  --user NAME            user to drop to after opening the capture (default nobody)\n"
    "  --no-keys              with -w -- COMMAND: no SSLKEYLOGFILE for the command, no\n"
    "                         TLS secrets in the file (by default they are: the file\n"
    "                         then holds session secrets)\n"
    "  -- COMMAND [ARG...]    run the push client (docker, podman, skopeo, oras, az)\n"
    "                         as the invoking user (SUDO_UID under sudo), capture\n"
    "                         while it runs, stop when it exits (--duration bounds\n"
    "                         it); its output is passed through to standard error\n"
    "                         and its lines that name a known failure and its exit\n"
    "                         status go into the report\n";

static const char usage_common[] =
    "  --json                 the JSON document of the verdict contract\n"
    "  --json-lines           one JSON object per endpoint and line, each complete\n"
    "                         (mode, files, verdict), for log pipelines\n"
    "  --markdown             a ticket-ready Markdown report\n"
    "  --host NAME|IP         only endpoints with this name or address\n"
    "  --port N               the TCP port of the registry (default 443)\n"
    "  --private-net CIDR     address space of private endpoints (repeatable;\n"
    "                         default 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7)\n"
    "  --color[=WHEN]         colour the text verdict: auto (default: when standard\n"
    "                         output is a terminal and NO_COLOR is not set), never,\n"
    "                         always (--color alone); --no-color is never\n"
    "  -h, --help             this help;  -V, --version  the version\n";

static const char usage_exit[] =
    "\n"
    "Reading takes more than a few seconds: a progress line on standard error, when\n"
    "that is a terminal.\n"
    "Exit status: 0 every endpoint ok, 1 a fault was diagnosed, 2 bad usage or\n"
    "unreadable input, 3 not enough evidence.\n";

static void print_usage(const char *which)
{
    if (!which || strcmp(which, "analyze") == 0) {
        if (!which)
            printf("%s\nOptions for analyze:\n", usage_head);
        fputs(usage_analyze, stdout);
    }
    if (!which || strcmp(which, "watch") == 0) {
        if (!which)
            fputs("\nOptions for watch:\n", stdout);
        fputs(usage_watch, stdout);
    }
    printf("%s", which ? "" : "\nOptions for both:\n");
    fputs(usage_common, stdout);
    fputs(usage_exit, stdout);
}

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
    const char **files;     /* argv's, in command-line order; room for argc */
    unsigned n_files;
    /* watch */
    const char *iface;
    const char *write_path;
    const char *user;
    double duration, until_idle;    /* seconds; 0: not set */
    bool no_keys;           /* --no-keys: no SSLKEYLOGFILE for -w -- COMMAND */
    char **command;         /* watch -- COMMAND...: argv's words, or NULL */
};

/* Bad usage: one line on stderr, exit 2.  */
static int fail_usage(const char *msg, const char *arg)
{
    if (arg)
        fprintf(stderr, "acrdiag: %s: %s (try acrdiag --help)\n", msg, arg);
    else
        fprintf(stderr, "acrdiag: %s (try acrdiag --help)\n", msg);
    return 2;
}

/* parse_options: the command is done and exits 0 (--help, --version). */
#define PARSE_DONE (-1)

static bool parse_seconds(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (*end || end == s || !(v > 0) || v > 86400)
        return false;
    *out = v;
    return true;
}

static int parse_options(int argc, char **argv, struct cli *c)
{
    enum { O_CLIENT_LOG = 512 };
    enum { O_NO_KEYS = 600 };
    enum { O_JSON = 256, O_MARKDOWN, O_HOST, O_PORT, O_PRIVATE, O_COLOR, O_NO_COLOR, O_DURATION,
           O_IDLE, O_USER, O_JSON_LINES, O_KEYLOG };
    /* Options anywhere, in the order given: a leading '-' makes getopt hand
     * over each operand as option 1 where it stands (files keep the order of
     * the command line, with -r FILE among them); -- ends the options.  */
    const char *optstring = c->watch ? "-i:w:hV" : "-o:r:hV";
    static const struct option longopts[] = {
        { "json", no_argument, NULL, O_JSON },
        { "markdown", no_argument, NULL, O_MARKDOWN },
        { "host", required_argument, NULL, O_HOST },
        { "port", required_argument, NULL, O_PORT },
        { "private-net", required_argument, NULL, O_PRIVATE },
        { "output", required_argument, NULL, 'o' },
        { "json-lines", no_argument, NULL, O_JSON_LINES },
        { "color", optional_argument, NULL, O_COLOR },
        { "no-color", no_argument, NULL, O_NO_COLOR },
        { "interface", required_argument, NULL, 'i' },
        { "write", required_argument, NULL, 'w' },
        { "duration", required_argument, NULL, O_DURATION },
        { "until-idle", required_argument, NULL, O_IDLE },
        { "user", required_argument, NULL, O_USER },
        { "no-keys", no_argument, NULL, O_NO_KEYS },
        { "read", required_argument, NULL, 'r' },
        { "client-log", required_argument, NULL, O_CLIENT_LOG },
        { "keylog", required_argument, NULL, O_KEYLOG },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    int ch;
    optind = 1;
    opterr = 0;
    /* Every operand may be a file: room for all of them, however many. */
    c->files = calloc((size_t)argc + 1, sizeof(*c->files));
    if (!c->files) {
        fprintf(stderr, "acrdiag: out of memory\n");
        return 2;
    }
    while ((ch = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
        bool watch_only = ch == 'i' || ch == 'w' || ch == O_DURATION || ch == O_IDLE || ch == O_USER ||
                          ch == O_NO_KEYS;
        if (watch_only && !c->watch)
            return fail_usage("option only for watch", argv[optind - 1]);
        if (ch == 'o' && c->watch)
            return fail_usage("watch writes its report to standard output; -w keeps the capture", NULL);
        switch (ch) {
        case O_JSON: c->format = FMT_JSON; break;
        case O_MARKDOWN: c->format = FMT_MARKDOWN; break;
        case O_JSON_LINES: c->format = FMT_JSON_LINES; break;
        case O_HOST: c->an.host = optarg; break;
        case O_PORT: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > 65535)
                return fail_usage("--port wants a number from 1 to 65535", optarg);
            c->an.port = (int)v;
            break;
        }
        case O_PRIVATE:
            if (c->an.n_private_nets >= AN_MAX_PRIVATE_NETS)
                return fail_usage("too many --private-net", optarg);
            if (!an_prefix_parse(optarg, &c->an.private_nets[c->an.n_private_nets]))
                return fail_usage("--private-net wants an address prefix such as 10.0.0.0/8", optarg);
            c->an.n_private_nets++;
            break;
        case 'o': c->output = optarg; break;
        case 1:
        case 'r':
            if (c->watch)
                return fail_usage(ch == 1 ? "watch takes no file; did you mean -w FILE?"
                                          : "option only for analyze", ch == 1 ? optarg : "-r");
            c->files[c->n_files++] = optarg;
            break;
        case 'h':
            print_usage(c->watch ? "watch" : "analyze");
            return PARSE_DONE;
        case 'V':
            printf("acrdiag %s\n", ACRDIAG_VERSION);
            return PARSE_DONE;
        case O_COLOR:
            if (!optarg || strcmp(optarg, "always") == 0)
                c->color = 1;
            else if (strcmp(optarg, "never") == 0)
                c->color = 0;
            else if (strcmp(optarg, "auto") == 0)
                c->color = -1;
            else
                return fail_usage("--color wants auto, never or always", optarg);
            break;
        case O_NO_COLOR: c->color = 0; break;
        case O_KEYLOG:
            if (c->watch)
                return fail_usage("option only for analyze", "--keylog");
            c->keylog_path = optarg;
            break;
        case O_CLIENT_LOG:
            if (c->watch)
                return fail_usage("option only for analyze (watch -- COMMAND reads the command's output)",
                                  "--client-log");
            c->client_log = optarg;
            break;
        case 'i': c->iface = optarg; break;
        case 'w': c->write_path = optarg; break;
        case O_USER: c->user = optarg; break;
        case O_NO_KEYS: c->no_keys = true; break;
        case O_DURATION:
            if (!parse_seconds(optarg, &c->duration))
                return fail_usage("--duration wants seconds", optarg);
            break;
        case O_IDLE:
            if (!parse_seconds(optarg, &c->until_idle))
                return fail_usage("--until-idle wants seconds", optarg);
            break;
        case '?':
        default:
            return fail_usage("unknown or incomplete option", argv[optind - 1]);
        }
    }
    if (c->watch) {
        if (optind < argc && optind > 1 && strcmp(argv[optind - 1], "--") == 0) {
            c->command = &argv[optind];     /* watch -- COMMAND [ARG...] */
            return 0;
        }
        if (optind < argc)
            return fail_usage("watch takes no file; did you mean -w FILE?", argv[optind]);
        if (optind > 1 && strcmp(argv[optind - 1], "--") == 0)
            return fail_usage("watch -- wants a command to run", NULL);
        return 0;
    }
    for (int i = optind; i < argc; i++)     /* after -- */
        c->files[c->n_files++] = argv[i];
    if (c->n_files == 0 && !c->client_log)
        return fail_usage("analyze needs at least one capture file", NULL);
    return 0;
}

/* The name of an input in messages. */
static const char *input_name(const char *path)
{
    return strcmp(path, "-") == 0 ? "standard input" : path;
}

/* ---- progress on a terminal ------------------------------------------------ */

/* Reading that takes more than PROGRESS_AFTER_NS shows one line on stderr,
 * redrawn every PROGRESS_EVERY_NS, when stderr is a terminal.  */
#define PROGRESS_AFTER_NS 2000000000LL
#define PROGRESS_EVERY_NS 250000000LL

struct progress {
    bool tty;
    bool shown;
    int64_t start, last;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void progress_init(struct progress *p)
{
    *p = (struct progress){ .tty = isatty(2) == 1, .start = mono_ns() };
}

/* what: "reading" or "finding evidence times in"; file i of n. */
static void progress_tick(struct progress *p, const char *what, unsigned i, unsigned n, const char *name,
                          uint64_t packets, uint64_t pos, uint64_t size)
{
    if (!p->tty)
        return;
    int64_t now = mono_ns();
    if (now - p->start < PROGRESS_AFTER_NS || now - p->last < PROGRESS_EVERY_NS)
        return;
    p->last = now;
    p->shown = true;
    char line[300];
    int k = snprintf(line, sizeof(line), "\racrdiag: %s ", what);
    if (n > 1)
        k += snprintf(line + k, sizeof(line) - (size_t)k, "file %u of %u, ", i + 1, n);
    /* The name as the text report prints it would need escaping: only its
     * last 40 bytes, printable ASCII, others as '?'.  */
    size_t len = strlen(name);
    const char *tail = len > 40 ? name + len - 40 : name;
    for (; *tail && k < (int)sizeof(line) - 80; tail++)
        line[k++] = *tail >= 0x20 && *tail < 0x7f ? *tail : '?';
    k += snprintf(line + k, sizeof(line) - (size_t)k, ": %llu packets", (unsigned long long)packets);
    if (size > 0 && pos <= size)
        k += snprintf(line + k, sizeof(line) - (size_t)k, ", %.0f%%", 100.0 * (double)pos / (double)size);
    snprintf(line + k, sizeof(line) - (size_t)k, ", %.0f s", (double)(now - p->start) / 1e9);
    fprintf(stderr, "%s\033[K", line);
}

static void progress_done(struct progress *p)
{
    if (p->shown)
        fputs("\r\033[K", stderr);
    p->shown = false;
}

/* ---- reading the files -------------------------------------------------------- */

/* What the first read learned of each file: its frames, and enough to tell
 * that it is the same file when read again for evidence times.  */
struct span {
    uint64_t first_frame, records;
    bool regular;               /* a regular file, read again by its name */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

/* The path that reads file i again: standard input only when it is a
 * regular file (a redirect), through /dev/stdin.  */
static const char *reread_path(const char *path)
{
    return strcmp(path, "-") == 0 ? "/dev/stdin" : path;
}

static void span_stat(struct span *sp, const char *path)
{
    struct stat st;
    if (stat(reread_path(path), &st) == 0 && S_ISREG(st.st_mode)) {
        sp->regular = true;
        sp->dev = st.st_dev;
        sp->ino = st.st_ino;
        sp->size = st.st_size;
        sp->mtime = st.st_mtim;
    }
}

/* Reads every file into the engine, one open at a time (a ring of any
 * length in bounded memory), and fills spans[].  Returns 0, or 2 after
 * printing one line when a file cannot be used at all.  */
static int read_files(const struct cli *c, struct an_engine *e, struct span *spans, struct progress *pg)
{
    uint64_t next_frame = 1;
    for (unsigned i = 0; i < c->n_files; i++) {
        char err[256];
        struct span *sp = &spans[i];
        *sp = (struct span){ .first_frame = next_frame };
        span_stat(sp, c->files[i]);
        struct cap_file *f = cap_file_open(c->files[i], err, sizeof(err));
        if (!f) {
            fprintf(stderr, "acrdiag: %s: %s\n", input_name(c->files[i]), err);
            return 2;
        }
        cap_file_set_next_frame(f, next_frame);
        cap_file_set_keylog(f, c->keylog);
        struct cap_record rec;
        uint64_t records = 0, unsupported = 0;
        uint32_t bad_linktype = 0;
        int rc;
        while ((rc = cap_file_next(f, &rec, err, sizeof(err))) == 1) {
            struct cap_pkt pkt;
            records++;
            if (cap_decode(&rec, &pkt) == CAP_UNSUPPORTED && pkt.ipver == 0) {
                unsupported++;
                bad_linktype = rec.linktype;
            }
            an_engine_packet(e, &pkt, rec.linktype);
            next_frame = rec.frame + 1;
            if ((records & 4095) == 0)
                progress_tick(pg, "reading", i, c->n_files, c->files[i], next_frame - 1, cap_file_position(f),
                              sp->regular ? (uint64_t)sp->size : 0);
        }
        sp->records = records;
        /* A prober's capture carries what the wire cannot in its comments. */
        const char *const *comments;
        unsigned n_comments = cap_file_comments(f, &comments);
        for (unsigned k = 0; k < n_comments; k++)
            an_engine_fact(e, comments[k]);
        cap_file_close(f);
        if (rc < 0) {
            progress_done(pg);
            if (records == 0) {
                fprintf(stderr, "acrdiag: %s: %s\n", input_name(c->files[i]), err);
                return 2;
            }
            char why[200];
            snprintf(why, sizeof(why), "%.60s: %.130s", input_name(c->files[i]), err);
            fprintf(stderr, "acrdiag: warning: %s; the verdicts use the %llu records before it\n", why,
                    (unsigned long long)records);
            an_engine_damaged(e, why);
        }
        if (records > 0 && unsupported == records) {
            progress_done(pg);
            fprintf(stderr, "acrdiag: %s: no IP packet could be decoded (link type %u)\n", input_name(c->files[i]),
                    bad_linktype);
            return 2;
        }
    }
    return 0;
}

/* ---- where each evidence frame lies ----------------------------------------- */

/* Every frame-carrying evidence and contradiction of a report. */
struct cited {
    struct an_evidence **ev;
    size_t n;
};

static int by_frame(const void *a, const void *b)
{
    const struct an_evidence *x = *(struct an_evidence *const *)a, *y = *(struct an_evidence *const *)b;
    return x->frame < y->frame ? -1 : x->frame > y->frame;
}

static bool cited_collect(struct an_report *r, struct cited *out)
{
    size_t n = 0;
    for (unsigned i = 0; i < r->n_endpoints; i++)
        n += AN_MAX_EVIDENCE + AN_MAX_CONTRADICTIONS;
    out->n = 0;
    out->ev = malloc((n ? n : 1) * sizeof(*out->ev));
    if (!out->ev)
        return false;
    for (unsigned i = 0; i < r->n_endpoints; i++) {
        struct an_endpoint *ep = &r->endpoints[i];
        for (unsigned k = 0; k < ep->n_evidence && k < AN_MAX_EVIDENCE; k++)
            if (ep->evidence[k].frame)
                out->ev[out->n++] = &ep->evidence[k];
        for (unsigned k = 0; k < ep->n_contradictions && k < AN_MAX_CONTRADICTIONS; k++)
            if (ep->contradictions[k].frame)
                out->ev[out->n++] = &ep->contradictions[k];
    }
    qsort(out->ev, out->n, sizeof(*out->ev), by_frame);
    return true;
}

/* The file holding a global frame (spans are in frame order), or -1. */
static long span_of(const struct span *spans, unsigned n, uint64_t frame)
{
    unsigned lo = 0, hi = n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (frame < spans[mid].first_frame)
            hi = mid;
        else if (frame >= spans[mid].first_frame + spans[mid].records)
            lo = mid + 1;
        else
            return (long)mid;
    }
    return -1;
}

/* Reads file i again up to the last cited frame in it and sets the
 * timestamps of ev[from, to) (all in that file, in frame order); the file
 * must still be the one first read (device, inode, size, mtime).  */
static void times_from_file(const struct cli *c, const struct span *sp, unsigned i, struct an_evidence **ev,
                            size_t from, size_t to, struct progress *pg)
{
    struct stat st;
    const char *path = reread_path(c->files[i]);
    if (!sp->regular || stat(path, &st) != 0 || st.st_dev != sp->dev || st.st_ino != sp->ino ||
        st.st_size != sp->size || st.st_mtim.tv_sec != sp->mtime.tv_sec || st.st_mtim.tv_nsec != sp->mtime.tv_nsec)
        return;
    char err[256];
    struct cap_file *f = cap_file_open(path, err, sizeof(err));
    if (!f)
        return;
    cap_file_set_next_frame(f, sp->first_frame);
    struct cap_record rec;
    size_t k = from;
    uint64_t n = 0;
    while (k < to && cap_file_next(f, &rec, err, sizeof(err)) == 1) {
        while (k < to && ev[k]->frame == rec.frame) {
            ev[k]->has_ts = true;
            ev[k]->ts_ns = rec.ts_ns;
            k++;
        }
        if ((++n & 4095) == 0)
            progress_tick(pg, "finding evidence times in", i, c->n_files, c->files[i], rec.frame,
                          cap_file_position(f), (uint64_t)sp->size);
    }
    cap_file_close(f);
}

/* Names the file and the frame within it of every cited frame and, when
 * want_ts, finds each one's timestamp by reading again, up to its last
 * cited frame, each file that holds one (standard input from a pipe cannot
 * be read again: its evidence has no timestamp).  */
static void locate_evidence(const struct cli *c, const struct span *spans, struct an_report *r, bool want_ts,
                            struct progress *pg)
{
    struct cited ci;
    if (!cited_collect(r, &ci))
        return;
    for (size_t k = 0; k < ci.n;) {
        long i = span_of(spans, c->n_files, ci.ev[k]->frame);
        if (i < 0) {
            k++;
            continue;
        }
        size_t from = k;
        for (; k < ci.n && span_of(spans, c->n_files, ci.ev[k]->frame) == i; k++) {
            ci.ev[k]->file = c->files[i];
            ci.ev[k]->frame_in_file = ci.ev[k]->frame - spans[i].first_frame + 1;
        }
        if (want_ts)
            times_from_file(c, &spans[i], (unsigned)i, ci.ev, from, k, pg);
    }
    progress_done(pg);
    free(ci.ev);
}

static int write_report(const struct cli *c, FILE *out, const struct an_report *r)
{
    switch (c->format) {
    case FMT_JSON: return an_write_json(out, r, ACRDIAG_VERSION);
    case FMT_MARKDOWN: return an_write_markdown(out, r, ACRDIAG_VERSION);
    case FMT_JSON_LINES: return an_write_json_lines(out, r, ACRDIAG_VERSION);
    case FMT_TEXT: break;
    }
    /* NO_COLOR (no-color.org): set and not empty, no colour unless asked
     * for on the command line.  */
    const char *no_color = getenv("NO_COLOR");
    bool automatic = out == stdout && isatty(1) && !(no_color && no_color[0]);
    struct an_write_options wo = { .color = c->color == 1 || (c->color < 0 && automatic) };
    return an_write_text(out, r, &wo);
}

/* ---- the report's destination (-o) ------------------------------------------ */

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

static int output_error(const char *path, const char *what)
{
    fprintf(stderr, "acrdiag: %s: %s\n", path, what);
    return 2;
}

/* True when st is the file our standard output already writes to. */
static bool is_our_stdout(const struct stat *st)
{
    struct stat so;
    return fstat(1, &so) == 0 && so.st_dev == st->st_dev && so.st_ino == st->st_ino;
}

/* Opens the destination before any input is read, so a bad -o fails fast.
 * Returns 0, or 2 after one line on stderr.  */
static int output_open(struct output *o, const char *path)
{
    *o = (struct output){ .path = path, .fp = stdout, .fd = 1 };
    if (!path || strcmp(path, "-") == 0) {
        o->path = NULL;
        return 0;
    }
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT)
            return output_error(path, strerror(errno));
        o->atomic = true;
    } else if (S_ISREG(st.st_mode)) {
        o->atomic = true;
    } else if (S_ISDIR(st.st_mode)) {
        return output_error(path, strerror(EISDIR));
    } else if (S_ISLNK(st.st_mode)) {
        struct stat target;
        if (stat(path, &target) != 0)
            return output_error(path, "is a symbolic link to nothing; not followed to create a file");
        if (S_ISDIR(target.st_mode))
            return output_error(path, strerror(EISDIR));
        if (S_ISREG(target.st_mode)) {
            if (is_our_stdout(&target)) {   /* /dev/stdout into a file: it is ours */
                o->path = NULL;
                return 0;
            }
            return output_error(path, "is a symbolic link to a regular file; not replaced "
                                      "(name the file itself)");
        }
    }
    if (o->atomic) {
        if (snprintf(o->tmp, sizeof(o->tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(o->tmp))
            return output_error(path, strerror(ENAMETOOLONG));
        o->fd = mkostemp(o->tmp, O_CLOEXEC);
        if (o->fd < 0)
            return output_error(path, strerror(errno));
        /* mkstemp makes 0600; a report is an ordinary file: honour the umask. */
        mode_t mask = umask(0);
        umask(mask);
        if (fchmod(o->fd, 0666 & ~mask) != 0) {
            int e = errno;
            close(o->fd);
            unlink(o->tmp);
            return output_error(path, strerror(e));
        }
    } else {
        /* In place, never created, never truncated (a device or FIFO has
         * nothing to truncate); only a symbolic link found above is
         * followed, and what is opened must still not be a regular file
         * unless it is our own standard output.  */
        int flags = O_WRONLY | O_NOCTTY | O_CLOEXEC | (S_ISLNK(st.st_mode) ? 0 : O_NOFOLLOW);
        o->fd = open(path, flags);
        if (o->fd < 0)
            return output_error(path, strerror(errno));
        struct stat now;
        if (fstat(o->fd, &now) != 0 || S_ISDIR(now.st_mode) || (S_ISREG(now.st_mode) && !is_our_stdout(&now))) {
            close(o->fd);
            return output_error(path, "changed while it was opened; not written");
        }
    }
    o->fp = fdopen(o->fd, "w");
    if (!o->fp) {
        int e = errno;
        close(o->fd);
        if (o->atomic)
            unlink(o->tmp);
        return output_error(path, strerror(e));
    }
    return 0;
}

/* Abandons the output: a temporary file is removed, nothing is renamed. */
static void output_abort(struct output *o)
{
    if (!o->path)
        return;
    fclose(o->fp);
    if (o->atomic)
        unlink(o->tmp);
}

/* Finishes the output after write_report returned wrc.  Returns 0, or 2
 * after one line on stderr naming the destination and errno's text.  */
static int output_close(struct output *o, int wrc)
{
    int e = wrc != 0 ? (errno ? errno : EIO) : 0;
    if (!o->path) {
        if (fflush(stdout) != 0 && !e)
            e = errno;
        if (e)
            return output_error("standard output", strerror(e));
        return 0;
    }
    if (fflush(o->fp) != 0 && !e)
        e = errno;
    if (!e && o->atomic && fsync(o->fd) != 0)
        e = errno;
    if (fclose(o->fp) != 0 && !e)
        e = errno;
    if (!e && o->atomic && rename(o->tmp, o->path) != 0)
        e = errno;
    if (e) {
        if (o->atomic)
            unlink(o->tmp);
        return output_error(o->path, strerror(e));
    }
    return 0;
}

/* --keylog FILE: read whole (at most LIM_KEYLOG_FILE bytes) into k.
 * Returns 0, or 2 after one line on stderr.  The secrets are never
 * printed.  */
static int read_keylog(const char *path, struct cap_keylog *k)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "acrdiag: --keylog %s: %s\n", path, strerror(errno));
        return 2;
    }
    uint8_t *buf = malloc(LIM_KEYLOG_FILE);
    size_t n = buf ? fread(buf, 1, LIM_KEYLOG_FILE, fp) : 0;
    bool err = ferror(fp);
    fclose(fp);
    if (!buf || err) {
        fprintf(stderr, "acrdiag: --keylog %s: %s\n", path, buf ? "read error" : "out of memory");
        free(buf);
        return 2;
    }
    cap_keylog_add(k, buf, n);
    OPENSSL_cleanse(buf, n);
    free(buf);
    return 0;
}

static int cmd_analyze(int argc, char **argv)
{
    struct cli c = { .format = FMT_TEXT, .color = -1, .an = { .port = 443 } };
    int rc = parse_options(argc, argv, &c);
    if (rc) {
        free(c.files);
        return rc == PARSE_DONE ? 0 : rc;
    }
    struct output out;
    rc = output_open(&out, c.output);
    if (rc) {
        free(c.files);
        return rc;
    }
    c.keylog = cap_keylog_new();
    if (c.keylog && c.keylog_path && (rc = read_keylog(c.keylog_path, c.keylog)) != 0) {
        cap_keylog_free(c.keylog);
        free(c.files);
        output_abort(&out);
        return rc;
    }
    c.an.keylog = c.keylog;
    struct an_engine *e = an_engine_new(&c.an);
    struct span *spans = calloc(c.n_files, sizeof(*spans));
    if (!e || !spans) {
        cap_keylog_free(c.keylog);
        an_engine_free(e);
        free(spans);
        free(c.files);
        output_abort(&out);
        fprintf(stderr, "acrdiag: out of memory\n");
        return 2;
    }
    struct progress pg;
    progress_init(&pg);
    rc = read_files(&c, e, spans, &pg);
    progress_done(&pg);
    if (rc) {
        an_engine_free(e);
        cap_keylog_free(c.keylog);
        free(spans);
        free(c.files);
        output_abort(&out);
        return rc;
    }
    struct an_report r;
    an_engine_finish(e, "analyze", &r);
    an_engine_free(e);
    cap_keylog_free(c.keylog);
    r.options = &c.an;
    r.capture.n_files = c.n_files;
    r.capture.all_files = c.files;
    for (unsigned i = 0; i < c.n_files && i < 16; i++)
        r.capture.files[i] = c.files[i];
    /* The text report shows no times: it need not read anything again. */
    locate_evidence(&c, spans, &r, c.format != FMT_TEXT, &pg);
    free(spans);
    /* The client's own words, beside (or, inside TLS, beyond) the wire's. */
    struct an_client *cl = NULL;
    if (c.client_log) {
        cl = malloc(sizeof(*cl));
        if (cl)
            cl_init(cl, c.client_log, false);
        if (!cl || !cl_read_file(cl, c.client_log)) {
            fprintf(stderr, "acrdiag: --client-log %s: %s\n", c.client_log, cl ? strerror(errno) : "out of memory");
            free(cl);
            an_report_free(&r);
            free(c.files);
            output_abort(&out);
            return 2;
        }
        cl_apply(cl, &r);
    }

    errno = 0;
    int wrc = write_report(&c, out.fp, &r);
    int status = an_exit_status(r.verdict);
    an_report_free(&r);
    free(cl);
    free(c.files);
    if (output_close(&out, wrc) != 0)
        return 2;
    return status;
}

/* ---- watch ------------------------------------------------------------------ */

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
    if (p->proto != 6 || (p->dport != port && p->sport != port))
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

/* ---- watch -- COMMAND --------------------------------------------------------- */

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

/* Starts the command (after the capture is open: packets wait in its
 * buffer).  Returns 0, or 2 after one line on stderr (a command that does
 * not exist, a user that cannot be taken).  */
static int command_start(struct watch_cmd *wc)
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

/* In the capture process: one read of a command pipe; output is passed
 * through to the terminal (acrdiag's stderr: its stdout is the report)
 * and fed to the client-log matcher.  */
static void command_read(int *fd, struct an_client *cl, bool pass)
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

/* The runner's "X <status>" (or its end without one). */
static void command_status(struct watch_cmd *wc, struct an_client *cl, bool *ended)
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

struct watch_ctx {
    struct cli *c;
    struct cap_live *live;
    struct cap_writer *writer;
    struct watch_cmd *cmd;      /* watch -- COMMAND, or NULL */
};

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
    struct watch_status st = { 0 };
    int64_t start = now_ns(CLOCK_MONOTONIC), last_activity = start, last_status = 0;
    bool seen_watched = false;
    char err[256] = "";
    int failure = 0;
    struct pollfd pfd[4] = { { .fd = cap_live_fd(w->live), .events = POLLIN } };
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
                command_status(wc, cl, &cmd_ended);
            else
                command_read(cfd[k - 1], cl, true);
        }
        for (int burst = 0; burst < 4096; burst++) {
            struct cap_record rec;
            int rc = cap_live_next(w->live, &rec, err, sizeof(err));
            if (rc == 0)
                break;
            if (rc < 0) {
                failure = 1;
                break;
            }
            struct cap_pkt pkt;
            cap_decode(&rec, &pkt);
            an_engine_packet(e, &pkt, rec.linktype);
            if (w->writer && cap_writer_packet(w->writer, &rec, NULL) != 0) {
                snprintf(err, sizeof(err), "%s: write failed", c->write_path);
                failure = 1;
                break;
            }
            if (status_update(&st, &pkt, c->an.port)) {
                seen_watched = true;
                last_activity = now_ns(CLOCK_MONOTONIC);
            }
        }
        int64_t now = now_ns(CLOCK_MONOTONIC);
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
            status_print(&st, (double)(now - start) / 1e9);
            last_status = now;
        }
    }
    if (tty)
        fputs("\r\033[K", stderr);
    if (failure)
        fprintf(stderr, "acrdiag: %s\n", err);

    an_engine_set_end(e, now_ns(CLOCK_REALTIME));
    struct an_report r;
    an_engine_finish(e, "watch", &r);
    an_engine_free(e);
    uint64_t kernel_drops = cap_live_dropped(w->live);
    if (kernel_drops) {
        r.findings |= 1u << AN_F_KERNEL_DROPS;
        /* The count, not only the finding: how much evidence is missing. */
        fprintf(stderr, "acrdiag: the kernel dropped %llu packets (capture buffer full), %llu were read: "
                "the report may miss evidence\n", (unsigned long long)kernel_drops, (unsigned long long)st.packets);
    }
    cap_live_close(w->live);
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
                command_read(&wc->out_fd, cl, true);
            if (q[1].revents)
                command_read(&wc->err_fd, cl, true);
        }
        if (!cmd_ended && wc->status_fd >= 0 && poll(&(struct pollfd){ .fd = wc->status_fd, .events = POLLIN }, 1, 0) > 0)
            command_status(wc, cl, &cmd_ended);
        cl->still_running = !cl->has_exit;
        cl_end(cl);
        cl_apply(cl, &r);
    }
    if (c->write_path) {
        /* Every packet seen is written: the frames are the kept file's. */
        struct cited ci;
        if (cited_collect(&r, &ci)) {
            for (size_t k = 0; k < ci.n; k++) {
                ci.ev[k]->file = c->write_path;
                ci.ev[k]->frame_in_file = ci.ev[k]->frame;
            }
            free(ci.ev);
        }
    }
    int status = an_exit_status(r.verdict);
    if (w->writer && cap_writer_detach(w->writer, err, sizeof(err)) != 0) {
        fprintf(stderr, "acrdiag: %s\n", err);
        status = 2;
    }
    if (write_report(c, stdout, &r) != 0 || fflush(stdout) != 0)
        status = 2;
    an_report_free(&r);
    free(cl);
    return failure ? 2 : status;
}

static int cmd_watch(int argc, char **argv)
{
    struct cli c = { .watch = true, .format = FMT_TEXT, .color = -1, .an = { .port = 443 } };
    int rc = parse_options(argc, argv, &c);
    free(c.files);      /* watch reads no file */
    c.files = NULL;
    if (rc)
        return rc == PARSE_DONE ? 0 : rc;
    char err[256], filter[256];
    if (!privsep_refuse_setuid(err, sizeof(err))) {
        fprintf(stderr, "acrdiag: %s\n", err);
        return 2;
    }
    snprintf(filter, sizeof(filter), WATCH_FILTER_FMT, c.an.port);
    probe_proxy_watch_filter(filter, sizeof(filter));
    struct watch_ctx w = { .c = &c };
    /* Everything privileged is opened first: the capture, the output file. */
    w.live = cap_live_open(c.iface, filter, err, sizeof(err));
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
        if (command_start(&wc) != 0) {
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
        probe_keylog_take(wc.keylog_dir, status <= 3 ? w.writer : NULL);
    /* Only this (privileged) parent may rename into the directory. */
    if (w.writer) {
        if (status <= 3 && cap_writer_commit(w.writer, err, sizeof(err)) != 0) {
            fprintf(stderr, "acrdiag: %s\n", err);
            status = 2;
        } else if (status > 3) {
            cap_writer_abort(w.writer);
        }
    }
    cap_live_close(w.live);
    return status;
}

/* The options of any command that take their value as the next word, so
 * that value is never taken for the command's name.  */
static bool takes_value(const char *opt)
{
    static const char *const with_value[] = {
        "-o", "-r", "-i", "-w", "--output", "--read", "--interface", "--write", "--host", "--port",
        "--private-net", "--duration", "--until-idle", "--user", "--client-log",
        /* probe's (probe/cli.c) */
        "--dns-server", "--data-endpoint", "--region", "--control", "--cacert", "--timeout", "--proxy",
        "--config-root",
    };
    for (size_t i = 0; i < sizeof(with_value) / sizeof(with_value[0]); i++)
        if (strcmp(opt, with_value[i]) == 0)
            return true;
    return false;
}

static bool is_command(const char *w)
{
    return strcmp(w, "analyze") == 0 || strcmp(w, "watch") == 0 || strcmp(w, "probe") == 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return fail_usage("missing command", NULL);
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0 || strcmp(cmd, "version") == 0) {
        printf("acrdiag %s\n", ACRDIAG_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        print_usage(NULL);
        return 0;
    }
    /* Options before the command (`acrdiag --json analyze x.pcap`): the
     * command moves to the front.  With no command, options mean analyze
     * (`acrdiag -r x.pcap`, tcpdump's habit).  */
    if (cmd[0] == '-' && cmd[1] != '\0') {
        int at = 0;
        for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
            if (is_command(argv[i]) && !takes_value(argv[i - 1])) {
                at = i;
                break;
            }
        }
        if (at) {
            char *word = argv[at];
            memmove(&argv[2], &argv[1], (size_t)(at - 1) * sizeof(argv[0]));
            argv[1] = word;
            cmd = word;
        } else {
            static char analyze_word[] = "analyze";
            argv[0] = analyze_word;     /* parse_options skips argv[0] */
            return cmd_analyze(argc, argv);
        }
    }
    if (strcmp(cmd, "analyze") == 0)
        return cmd_analyze(argc - 1, argv + 1);
    if (strcmp(cmd, "watch") == 0)
        return cmd_watch(argc - 1, argv + 1);
    if (strcmp(cmd, "probe") == 0) {
        /* -h and -V for probe as for the others (probe/cli.c knows --help). */
        for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++) {
            if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
                printf("acrdiag %s\n", ACRDIAG_VERSION);
                return 0;
            }
            if (strcmp(argv[i], "-h") == 0) {
                static char help_word[] = "--help";
                char *help[] = { argv[1], help_word, NULL };
                return probe_main(2, help);
            }
        }
        return probe_main(argc - 1, argv + 1);
    }
    return fail_usage("unknown command", cmd);
}
