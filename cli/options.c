/* options.c: the usage texts and the options of analyze and watch, in
 * one getopt pass (probe has its own: probe/cli.c).  */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

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
    "  --threads N            1: read, decode and analyse on one thread; 2: read\n"
    "                         and decode (and decompress) on a second (default: 2\n"
    "                         for files of 8 MiB or more, and pipes, on 2+ CPUs)\n"
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
    "  -B, --buffer-size KIB  the kernel's capture buffer in KiB, as tcpdump's -B\n"
    "                         (default 65536, 64 MiB; 1024 to 1048576)\n"
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

void cli_usage(const char *which)
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

/* Bad usage: one line on stderr, exit 2.  */
int cli_fail_usage(const char *msg, const char *arg)
{
    if (arg)
        fprintf(stderr, "acrdiag: %s: %s (try acrdiag --help)\n", msg, arg);
    else
        fprintf(stderr, "acrdiag: %s (try acrdiag --help)\n", msg);
    return 2;
}

static bool parse_seconds(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (*end || end == s || !(v > 0) || v > 86400)
        return false;
    *out = v;
    return true;
}

int cli_parse_options(int argc, char **argv, struct cli *c)
{
    enum { O_CLIENT_LOG = 512 };
    enum { O_NO_KEYS = 600 };
    enum { O_JSON = 256, O_MARKDOWN, O_HOST, O_PORT, O_PRIVATE, O_COLOR, O_NO_COLOR, O_DURATION,
           O_IDLE, O_USER, O_JSON_LINES, O_KEYLOG };
    enum { O_THREADS = 700 };
    /* Options anywhere, in the order given: a leading '-' makes getopt hand
     * over each operand as option 1 where it stands (files keep the order of
     * the command line, with -r FILE among them); -- ends the options.  */
    const char *optstring = c->watch ? "-i:w:B:hV" : "-o:r:hV";
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
        { "buffer-size", required_argument, NULL, 'B' },
        { "duration", required_argument, NULL, O_DURATION },
        { "until-idle", required_argument, NULL, O_IDLE },
        { "user", required_argument, NULL, O_USER },
        { "no-keys", no_argument, NULL, O_NO_KEYS },
        { "read", required_argument, NULL, 'r' },
        { "client-log", required_argument, NULL, O_CLIENT_LOG },
        { "keylog", required_argument, NULL, O_KEYLOG },
        { "threads", required_argument, NULL, O_THREADS },
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
                          ch == O_NO_KEYS || ch == 'B';
        if (watch_only && !c->watch)
            return cli_fail_usage("option only for watch", argv[optind - 1]);
        if (ch == 'o' && c->watch)
            return cli_fail_usage("watch writes its report to standard output; -w keeps the capture", NULL);
        switch (ch) {
        case O_JSON: c->format = FMT_JSON; break;
        case O_MARKDOWN: c->format = FMT_MARKDOWN; break;
        case O_JSON_LINES: c->format = FMT_JSON_LINES; break;
        case O_HOST: c->an.host = optarg; break;
        case O_PORT: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > 65535)
                return cli_fail_usage("--port wants a number from 1 to 65535", optarg);
            c->an.port = (int)v;
            break;
        }
        case O_PRIVATE:
            if (c->an.n_private_nets >= AN_MAX_PRIVATE_NETS)
                return cli_fail_usage("too many --private-net", optarg);
            if (!an_prefix_parse(optarg, &c->an.private_nets[c->an.n_private_nets]))
                return cli_fail_usage("--private-net wants an address prefix such as 10.0.0.0/8", optarg);
            c->an.n_private_nets++;
            break;
        case 'o': c->output = optarg; break;
        case 1:
        case 'r':
            if (c->watch)
                return cli_fail_usage(ch == 1 ? "watch takes no file; did you mean -w FILE?"
                                          : "option only for analyze", ch == 1 ? optarg : "-r");
            c->files[c->n_files++] = optarg;
            break;
        case 'h':
            cli_usage(c->watch ? "watch" : "analyze");
            return CLI_PARSE_DONE;
        case 'V':
            printf("acrdiag %s\n", ACRDIAG_VERSION);
            return CLI_PARSE_DONE;
        case O_COLOR:
            if (!optarg || strcmp(optarg, "always") == 0)
                c->color = 1;
            else if (strcmp(optarg, "never") == 0)
                c->color = 0;
            else if (strcmp(optarg, "auto") == 0)
                c->color = -1;
            else
                return cli_fail_usage("--color wants auto, never or always", optarg);
            break;
        case O_NO_COLOR: c->color = 0; break;
        case O_KEYLOG:
            if (c->watch)
                return cli_fail_usage("option only for analyze", "--keylog");
            c->keylog_path = optarg;
            break;
        case O_THREADS:
            if (c->watch)
                return cli_fail_usage("option only for analyze", "--threads");
            if (strcmp(optarg, "1") != 0 && strcmp(optarg, "2") != 0)
                return cli_fail_usage("--threads wants 1 or 2", optarg);
            c->threads = (unsigned)(optarg[0] - '0');
            break;
        case O_CLIENT_LOG:
            if (c->watch)
                return cli_fail_usage("option only for analyze (watch -- COMMAND reads the command's output)",
                                  "--client-log");
            c->client_log = optarg;
            break;
        case 'i': c->iface = optarg; break;
        case 'w': c->write_path = optarg; break;
        case 'B':
            if (!cap_live_buffer_parse(optarg, &c->buffer_bytes))
                return cli_fail_usage("-B wants KiB from 1024 to 1048576 (1 MiB to 1 GiB)", optarg);
            break;
        case O_USER: c->user = optarg; break;
        case O_NO_KEYS: c->no_keys = true; break;
        case O_DURATION:
            if (!parse_seconds(optarg, &c->duration))
                return cli_fail_usage("--duration wants seconds", optarg);
            break;
        case O_IDLE:
            if (!parse_seconds(optarg, &c->until_idle))
                return cli_fail_usage("--until-idle wants seconds", optarg);
            break;
        case '?':
        default:
            return cli_fail_usage("unknown or incomplete option", argv[optind - 1]);
        }
    }
    if (c->watch) {
        if (optind < argc && optind > 1 && strcmp(argv[optind - 1], "--") == 0) {
            c->command = &argv[optind];     /* watch -- COMMAND [ARG...] */
            return 0;
        }
        if (optind < argc)
            return cli_fail_usage("watch takes no file; did you mean -w FILE?", argv[optind]);
        if (optind > 1 && strcmp(argv[optind - 1], "--") == 0)
            return cli_fail_usage("watch -- wants a command to run", NULL);
        return 0;
    }
    for (int i = optind; i < argc; i++)     /* after -- */
        c->files[c->n_files++] = argv[i];
    if (c->n_files == 0 && !c->client_log)
        return cli_fail_usage("analyze needs at least one capture file", NULL);
    return 0;
}

const char *cli_input_name(const char *path)
{
    return strcmp(path, "-") == 0 ? "standard input" : path;
}
