/* acrdiag.c: the command line: tells why pushes to Azure Container Registry
 * fail, and proves it with packets.  */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/analysis.h"
#include "capture/capture.h"

#define MAX_FILES 16

static const char usage_text[] =
    "usage: acrdiag analyze [options] FILE...\n"
    "       acrdiag --version | --help\n"
    "\n"
    "Commands:\n"
    "  analyze FILE...        read pcap/pcapng captures (several files are read in\n"
    "                         order as one capture) and print a verdict per endpoint\n"
    "\n"
    "Options for analyze:\n"
    "  --json                 the JSON document of the verdict contract\n"
    "  --markdown             a ticket-ready Markdown report\n"
    "  --host NAME|IP         only endpoints with this name or address\n"
    "  --port N               the TCP port of the registry (default 443)\n"
    "  --private-net CIDR     address space of private endpoints (repeatable;\n"
    "                         default 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7)\n"
    "  -o, --output FILE      write the report to FILE (atomically) instead of stdout\n"
    "  --color / --no-color   colour the text verdict (default: when stdout is a terminal)\n"
    "\n"
    "Exit status: 0 every endpoint ok, 1 a fault was diagnosed, 2 bad usage or\n"
    "unreadable input, 3 not enough evidence.\n";

enum format { FMT_TEXT, FMT_JSON, FMT_MARKDOWN };

struct cli {
    enum format format;
    const char *output;
    int color;              /* -1 auto */
    struct an_options an;
    const char *files[MAX_FILES];
    unsigned n_files;
};

static int fail_usage(const char *msg, const char *arg)
{
    if (arg)
        fprintf(stderr, "acrdiag: %s: %s\n", msg, arg);
    else
        fprintf(stderr, "acrdiag: %s\n", msg);
    fprintf(stderr, "Try 'acrdiag --help'.\n");
    return 2;
}

static int parse_analyze(int argc, char **argv, struct cli *c)
{
    enum { O_JSON = 256, O_MARKDOWN, O_HOST, O_PORT, O_PRIVATE, O_COLOR, O_NO_COLOR };
    static const struct option longopts[] = {
        { "json", no_argument, NULL, O_JSON },
        { "markdown", no_argument, NULL, O_MARKDOWN },
        { "host", required_argument, NULL, O_HOST },
        { "port", required_argument, NULL, O_PORT },
        { "private-net", required_argument, NULL, O_PRIVATE },
        { "output", required_argument, NULL, 'o' },
        { "color", no_argument, NULL, O_COLOR },
        { "no-color", no_argument, NULL, O_NO_COLOR },
        { NULL, 0, NULL, 0 },
    };
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "+o:", longopts, NULL)) != -1) {
        switch (ch) {
        case O_JSON: c->format = FMT_JSON; break;
        case O_MARKDOWN: c->format = FMT_MARKDOWN; break;
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
        case O_COLOR: c->color = 1; break;
        case O_NO_COLOR: c->color = 0; break;
        case '?':
        default:
            return fail_usage("unknown or incomplete option", argv[optind - 1]);
        }
    }
    for (int i = optind; i < argc; i++) {
        if (c->n_files >= MAX_FILES)
            return fail_usage("too many capture files (at most 16)", argv[i]);
        c->files[c->n_files++] = argv[i];
    }
    if (c->n_files == 0)
        return fail_usage("analyze needs at least one capture file", NULL);
    return 0;
}

/* Reads every file into the engine.  Returns 0, or 2 after printing one
 * line when a file cannot be used at all.  */
static int read_files(const struct cli *c, struct an_engine *e)
{
    uint64_t next_frame = 1;
    for (unsigned i = 0; i < c->n_files; i++) {
        char err[256];
        struct cap_file *f = cap_file_open(c->files[i], err, sizeof(err));
        if (!f) {
            fprintf(stderr, "acrdiag: %s: %s\n", c->files[i], err);
            return 2;
        }
        cap_file_set_next_frame(f, next_frame);
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
        }
        cap_file_close(f);
        if (rc < 0) {
            if (records == 0) {
                fprintf(stderr, "acrdiag: %s: %s\n", c->files[i], err);
                return 2;
            }
            char why[200];
            snprintf(why, sizeof(why), "%.60s: %.130s", c->files[i], err);
            fprintf(stderr, "acrdiag: warning: %s; the verdicts use the %llu records before it\n", why,
                    (unsigned long long)records);
            an_engine_damaged(e, why);
        }
        if (records > 0 && unsupported == records) {
            fprintf(stderr, "acrdiag: %s: no IP packet could be decoded (link type %u)\n", c->files[i],
                    bad_linktype);
            return 2;
        }
    }
    return 0;
}

static int write_report(const struct cli *c, FILE *out, const struct an_report *r)
{
    switch (c->format) {
    case FMT_JSON: return an_write_json(out, r, ACRDIAG_VERSION);
    case FMT_MARKDOWN: return an_write_markdown(out, r, ACRDIAG_VERSION);
    case FMT_TEXT: break;
    }
    struct an_write_options wo = { .color = c->color == 1 || (c->color < 0 && out == stdout && isatty(1)) };
    return an_write_text(out, r, &wo);
}

/* Writes to FILE.tmp.XXXXXX, then renames: the reader never sees half a report. */
static int write_atomically(const struct cli *c, const struct an_report *r)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", c->output) >= (int)sizeof(tmp)) {
        fprintf(stderr, "acrdiag: %s: name too long\n", c->output);
        return -1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "acrdiag: %s: %s\n", c->output, strerror(errno));
        return -1;
    }
    FILE *out = fdopen(fd, "w");
    if (!out) {
        close(fd);
        unlink(tmp);
        fprintf(stderr, "acrdiag: %s: %s\n", c->output, strerror(errno));
        return -1;
    }
    int rc = write_report(c, out, r);
    if (fflush(out) != 0 || fsync(fd) != 0)
        rc = -1;
    if (fclose(out) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, c->output) != 0)
        rc = -1;
    if (rc != 0) {
        fprintf(stderr, "acrdiag: %s: %s\n", c->output, strerror(errno));
        unlink(tmp);
    }
    return rc;
}

static int cmd_analyze(int argc, char **argv)
{
    struct cli c = { .format = FMT_TEXT, .color = -1, .an = { .port = 443 } };
    int rc = parse_analyze(argc, argv, &c);
    if (rc)
        return rc;
    struct an_engine *e = an_engine_new(&c.an);
    if (!e) {
        fprintf(stderr, "acrdiag: out of memory\n");
        return 2;
    }
    rc = read_files(&c, e);
    if (rc) {
        an_engine_free(e);
        return rc;
    }
    struct an_report r;
    an_engine_finish(e, "analyze", &r);
    an_engine_free(e);
    r.capture.n_files = c.n_files;
    for (unsigned i = 0; i < c.n_files && i < 16; i++)
        r.capture.files[i] = c.files[i];

    int wrc = c.output ? write_atomically(&c, &r) : write_report(&c, stdout, &r);
    if (!c.output && fflush(stdout) != 0)
        wrc = -1;
    int status = an_exit_status(r.verdict);
    an_report_free(&r);
    if (wrc != 0) {
        if (!c.output)
            fprintf(stderr, "acrdiag: writing the report failed: %s\n", strerror(errno));
        return 2;
    }
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return fail_usage("missing command", NULL);
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("acrdiag %s\n", ACRDIAG_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(cmd, "analyze") == 0)
        return cmd_analyze(argc - 1, argv + 1);
    return fail_usage("unknown command", cmd);
}
