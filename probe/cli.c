/* cli.c: `acrdiag probe`: options, the plan (--dry-run), the handles
 * opened while privileged, the unprivileged run, and the report.  */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/privsep.h"
#include "probe.h"
#include "probe_int.h"
#include "push.h"

/* The capture sees TCP, DNS and ICMP; run.c keeps only the probe's own. */
#define PROBE_BPF "tcp or udp port 53 or icmp or icmp6"
#define PROBE_USER "nobody"

static const char usage_text[] =
    "usage: acrdiag probe NAME [options]\n"
    "  NAME                   myregistry, myregistry.azurecr.io or any login server\n"
    "  --dns-server IP        also resolve through this server and compare\n"
    "  --data-endpoint NAME   also probe this data endpoint (repeatable)\n"
    "  --region R             also probe <registry>.R.data.azurecr.io\n"
    "  --control IP|NAME      a destination that should answer on TCP 443 or ping, in\n"
    "                         any prefix; a name is resolved like the registry's\n"
    "                         (repeatable, at most 4; the resolvers are used too)\n"
    "  --cacert FILE          trust this CA too (PEM) when verifying the chain\n"
    "  --proxy URL            probe through this explicit proxy, http://[user:pass@]host[:port]\n"
    "                         (default: the Docker daemon's setting, else HTTPS_PROXY)\n"
    "  --no-proxy             probe direct, whatever the proxy settings say\n"
    "  --config-root DIR      read the Docker daemon's files under DIR instead of /\n"
    "  --timeout S            bound the whole run (default 3 s)\n"
    "  -w FILE                write every packet sent and received (pcapng) with the\n"
    "                         facts the wire cannot carry as comments, and the TLS\n"
    "                         secrets of the probe's connections (session secrets)\n"
    "  --no-keys              with -w: leave the TLS secrets out\n"
    "  -B, --buffer-size KIB  the kernel's capture buffer in KiB, as tcpdump's -B\n"
    "                         (default 32768, 32 MiB; 1024 to 1048576)\n"
    "  --json | --markdown    output format (default text)\n"
    "  --private-net CIDR     address space of private endpoints (repeatable)\n"
    "  --dry-run              print the plan and send nothing\n"
    "  --push-check REPO      also walk a push to REPO: token, upload, a 64 KiB PATCH,\n"
    "                         then cancel the upload (never a manifest, never a blob)\n"
    "  --username U           with --password-stdin: the credentials of the push check\n"
    "  --password-stdin       read the password from standard input\n"
    "  --token-stdin          read an ACR refresh token (az acr login --expose-token)\n"
    "                         from standard input; without either, the invoking user's\n"
    "                         Docker config (auths, credsStore, credHelpers)\n";

static int usage_error(const char *msg, const char *arg)
{
    /* One line, as every bad input (style: exit 2 is one line on stderr). */
    if (arg)
        fprintf(stderr, "acrdiag probe: %s: %s (see acrdiag probe --help)\n", msg, arg);
    else
        fprintf(stderr, "acrdiag probe: %s (see acrdiag probe --help)\n", msg);
    return 2;
}

bool probe_name_normalize(const char *in, char *out, size_t len, bool *upper)
{
    size_t n = strlen(in);
    *upper = false;
    if (n == 0 || n > 253)
        return false;
    bool dot = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (!isalnum(c) && c != '-' && c != '.')
            return false;
        if (c == '.' && (i == 0 || in[i - 1] == '.'))
            return false;
        *upper = *upper || isupper(c);
        dot = dot || c == '.';
    }
    if (in[n - 1] == '.')
        n--;
    /* A bare registry name is a login server under azurecr.io. */
    const char *suffix = dot ? "" : ".azurecr.io";
    if (n + strlen(suffix) + 1 > len)
        return false;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    memcpy(out + n, suffix, strlen(suffix) + 1);
    return true;
}

bool probe_control_parse(const char *in, char *out, size_t len, bool *is_name)
{
    struct cap_addr a;
    *is_name = false;
    if (cap_addr_parse(in, &a)) {
        cap_addr_str(&a, out, len);
        return true;
    }
    size_t n = strlen(in);
    if (n == 0 || n > 253 || n + 1 > len)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (!isalnum(c) && c != '-' && c != '.')
            return false;
        if (c == '.' && (i == 0 || in[i - 1] == '.'))
            return false;
    }
    if (in[n - 1] == '.')
        n--;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[n] = '\0';
    *is_name = true;
    return true;
}

/* The explicit proxy's options (proxy.h). */
enum { O_PROXY = 1024, O_NO_PROXY, O_CONFIG_ROOT, O_NO_KEYS };

static bool add_name(struct probe_cfg *cfg, const char *name)
{
    bool upper;
    if (cfg->n_names >= PROBE_MAX_NAMES ||
        !probe_name_normalize(name, cfg->names[cfg->n_names], sizeof(cfg->names[0]), &upper))
        return false;
    cfg->uppercase = cfg->uppercase || upper;
    cfg->n_names++;
    return true;
}

/* Bad combinations of the push check's options: one line, exit 2. */
static const char *push_options_error(const struct probe_cfg *cfg, const char *username, bool password_stdin,
                                      bool token_stdin)
{
    if (!cfg->push_repo && (username || password_stdin || token_stdin))
        return "--username, --password-stdin and --token-stdin need --push-check REPO";
    if (cfg->push_repo && !push_repo_valid(cfg->push_repo))
        return "--push-check wants a repository name (lower case a-z 0-9 and . _ - /, e.g. team/app)";
    if (password_stdin != (username != NULL))
        return "--username and --password-stdin go together";
    if (token_stdin && username)
        return "--token-stdin and --username exclude each other";
    if (username && (!*username || strlen(username) >= PUSH_USER_MAX || strchr(username, ':')))
        return "--username wants a user name without ':'";
    return NULL;
}

static int parse(int argc, char **argv, struct probe_cfg *cfg, const char **username, bool *password_stdin,
                 bool *token_stdin)
{
    enum { O_DNS = 256, O_DATA, O_REGION, O_CONTROL, O_CACERT, O_TIMEOUT, O_JSON, O_MD, O_PRIVATE, O_DRY, O_HELP,
           O_PUSH, O_USER, O_PWSTDIN, O_TOKSTDIN };
    static const struct option longopts[] = {
        { "dns-server", required_argument, NULL, O_DNS },
        { "data-endpoint", required_argument, NULL, O_DATA },
        { "region", required_argument, NULL, O_REGION },
        { "control", required_argument, NULL, O_CONTROL },
        { "cacert", required_argument, NULL, O_CACERT },
        { "proxy", required_argument, NULL, O_PROXY },
        { "no-proxy", no_argument, NULL, O_NO_PROXY },
        { "config-root", required_argument, NULL, O_CONFIG_ROOT },
        { "no-keys", no_argument, NULL, O_NO_KEYS },
        { "buffer-size", required_argument, NULL, 'B' },
        { "timeout", required_argument, NULL, O_TIMEOUT },
        { "json", no_argument, NULL, O_JSON },
        { "markdown", no_argument, NULL, O_MD },
        { "private-net", required_argument, NULL, O_PRIVATE },
        { "dry-run", no_argument, NULL, O_DRY },
        { "help", no_argument, NULL, O_HELP },
        { "push-check", required_argument, NULL, O_PUSH },
        { "username", required_argument, NULL, O_USER },
        { "password-stdin", no_argument, NULL, O_PWSTDIN },
        { "token-stdin", no_argument, NULL, O_TOKSTDIN },
        { NULL, 0, NULL, 0 },
    };
    const char *data[PROBE_MAX_NAMES], *region = NULL;
    unsigned n_data = 0;
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "w:B:", longopts, NULL)) != -1) {
        switch (ch) {
        case O_DNS: {
            struct cap_addr a;
            if (!cap_addr_parse(optarg, &a))
                return usage_error("--dns-server wants an IP address", optarg);
            cfg->dns_server = optarg;
            break;
        }
        case O_DATA:
            if (n_data >= PROBE_MAX_NAMES - 2)
                return usage_error("too many --data-endpoint", optarg);
            data[n_data++] = optarg;
            break;
        case O_REGION: region = optarg; break;
        case O_CONTROL:
            if (cfg->n_controls >= PROBE_MAX_CONTROLS ||
                !probe_control_parse(optarg, cfg->controls[cfg->n_controls], sizeof(cfg->controls[0]),
                                     &cfg->control_is_name[cfg->n_controls]))
                return usage_error("--control wants an IP address or a host name (at most 4)", optarg);
            cfg->n_controls++;
            break;
        case O_CACERT: cfg->cacert = optarg; break;
        case O_PROXY: {
            /* Never echoed: the URL may hold a password. */
            struct proxy_setting *s = &cfg->proxy.src[PXS_OPTION];
            if (!proxy_url_parse(optarg, &s->url) || !s->url.usable)
                return usage_error("--proxy wants http://[user:password@]host[:port]", s->url.problem);
            s->present = s->has_proxy = true;
            snprintf(s->origin, sizeof(s->origin), "--proxy");
            break;
        }
        case O_NO_PROXY: cfg->proxy.no_proxy_option = true; break;
        case O_CONFIG_ROOT: cfg->config_root = optarg; break;
        case O_NO_KEYS: cfg->no_keys = true; break;
        case O_TIMEOUT: {
            char *end;
            double v = strtod(optarg, &end);
            if (*end || end == optarg || !(v >= 0.5 && v <= 60))
                return usage_error("--timeout wants seconds from 0.5 to 60", optarg);
            cfg->timeout_s = v;
            break;
        }
        case 'w': cfg->write_path = optarg; break;
        case 'B':
            if (!cap_live_buffer_parse(optarg, &cfg->buffer_bytes))
                return usage_error("-B wants KiB from 1024 to 1048576 (1 MiB to 1 GiB)", optarg);
            break;
        case O_JSON: cfg->format = PROBE_FMT_JSON; break;
        case O_MD: cfg->format = PROBE_FMT_MARKDOWN; break;
        case O_PRIVATE:
            if (cfg->an.n_private_nets >= AN_MAX_PRIVATE_NETS ||
                !an_prefix_parse(optarg, &cfg->an.private_nets[cfg->an.n_private_nets]))
                return usage_error("--private-net wants an address prefix such as 10.0.0.0/8", optarg);
            cfg->an.n_private_nets++;
            break;
        case O_DRY: cfg->dry_run = true; break;
        case O_HELP: fputs(usage_text, stdout); return -1;
        case O_PUSH: cfg->push_repo = optarg; break;
        case O_USER: *username = optarg; break;
        case O_PWSTDIN: *password_stdin = true; break;
        case O_TOKSTDIN: *token_stdin = true; break;
        default: return usage_error("unknown or incomplete option", argv[optind - 1]);
        }
    }
    const char *perr = push_options_error(cfg, *username, *password_stdin, *token_stdin);
    if (perr) {
        fprintf(stderr, "acrdiag probe: %s (see acrdiag probe --help)\n", perr);
        return 2;
    }
    if (optind != argc - 1)
        return usage_error("probe wants exactly one registry name", NULL);
    if (!add_name(cfg, argv[optind]))
        return usage_error("not a registry name", argv[optind]);
    if (cfg->uppercase)
        fprintf(stderr, "acrdiag probe: warning: registry names are lower case; probing %s\n", cfg->names[0]);
    for (unsigned i = 0; i < n_data; i++)
        if (!add_name(cfg, data[i]))
            return usage_error("not a data endpoint name", data[i]);
    if (region) {
        char dn[LIM_DNS_NAME];
        const char *dot = strchr(cfg->names[0], '.');
        int n = snprintf(dn, sizeof(dn), "%.*s.%s.data.azurecr.io", (int)(dot - cfg->names[0]), cfg->names[0], region);
        if (n < 0 || (size_t)n >= sizeof(dn) || !add_name(cfg, dn))
            return usage_error("not a region name", region);
    }
    char err[200];
    if (cfg->proxy.no_proxy_option && cfg->proxy.src[PXS_OPTION].has_proxy)
        return usage_error("--proxy and --no-proxy exclude each other", NULL);
    if (!probe_proxy_setup(cfg, err, sizeof(err)))
        return usage_error(err, NULL);
    return 0;
}

static void print_plan(const struct probe_cfg *cfg)
{
    printf("acrdiag probe plan (dry run: nothing is sent)\n");
    for (unsigned i = 0; i < cfg->n_names; i++)
        if (!probe_proxy_routed(cfg, i))
            printf("resolve %s (A, AAAA, CNAME chain) through the system resolver%s%s\n", cfg->names[i],
                   cfg->dns_server ? " and " : "", cfg->dns_server ? cfg->dns_server : "");
    probe_proxy_plan_print(cfg);
    printf("capture TCP, DNS and ICMP of the probe (needs root) before sending%s%s\n",
           cfg->write_path ? "; write it to " : "", cfg->write_path ? cfg->write_path : "");
    printf("for every address resolved, concurrently:\n"
           "  TCP %d + TLS with SNI NAME (verify: system store%s%s) + GET /v2/\n"
           "  TCP %d + TLS 1.2 at most with SNI NAME (certificate in clear)\n"
           "  TCP %d + TLS with SNI %s\n",
           PROBE_PORT_TLS, cfg->cacert ? " + " : "", cfg->cacert ? cfg->cacert : "", PROBE_PORT_TLS,
           PROBE_PORT_TLS, PROBE_CONTROL_SNI);
    printf("  no SYN-ACK within 250 ms, or a failure: TCP %d and %d, %u ICMP echo requests,\n"
           "    TCP 53 to the resolvers%s\n",
           PROBE_PORT_OTHER, PROBE_PORT_UNUSED, PROBE_ECHO_COUNT, cfg->n_controls ? ", TCP 443 and ICMP echo to the --control addresses" : "");
    for (unsigned i = 0; i < cfg->n_controls; i++)
        printf("    control %s%s (counts whatever its prefix)\n", cfg->controls[i],
               cfg->control_is_name[i] ? ", resolved like the registry name (at most 2 addresses)" : "");
    printf("  reset or foreign certificate: TCP %d and %d with TTL 1..%u\n", PROBE_PORT_TLS, PROBE_PORT_OTHER,
           PROBE_TTL_MAX);
    printf("  once TCP %d connects: TLS with a %s-byte ClientHello, DF set (path MTU both ways)\n", PROBE_PORT_TLS,
           "1500+");
    if (cfg->push_repo)
        printf("then a push check of repository %s: GET /v2/, a token for repository:%s:push,pull,\n"
               "  POST an upload, its Location, one %u-byte PATCH, DELETE the upload (each request\n"
               "  within %.1f s); never a manifest, never a completed blob\n",
               cfg->push_repo, cfg->push_repo, PUSH_PATCH_BYTES, cfg->timeout_s);
    printf("the whole run ends within %.1f s%s\n", cfg->timeout_s, cfg->push_repo ? " before the push check" : "");
}

/* ---- the unprivileged run ----------------------------------------------------- */

static int write_report(const struct probe_cfg *cfg, const struct an_report *r)
{
    int rc;
    switch (cfg->format) {
    case PROBE_FMT_JSON: rc = an_write_json(stdout, r, ACRDIAG_VERSION); break;
    case PROBE_FMT_MARKDOWN: rc = an_write_markdown(stdout, r, ACRDIAG_VERSION); break;
    default: {
        struct an_write_options wo = { .color = isatty(1) != 0 };
        rc = an_write_text(stdout, r, &wo);
    }
    }
    if (fflush(stdout) != 0)
        rc = -1;
    return rc;
}

/* Evidence the run could not have, said on every endpoint it concerns. */
static void note_missing(const struct probe_ctx *p, struct an_report *r)
{
    for (unsigned i = 0; i < r->n_endpoints; i++) {
        struct an_endpoint *ep = &r->endpoints[i];
        if (!p->live && ep->n_evidence < AN_MAX_EVIDENCE) {
            ep->evidence[ep->n_evidence].kind = "probe_no_capture";
            snprintf(ep->evidence[ep->n_evidence++].what, sizeof(ep->evidence[0].what),
                     "no packet capture (%.120s): hop distances, RSTs, ICMP errors and DNS packets are not evidence",
                     p->live_err);
        }
        if (p->icmp4 < 0 && p->icmp6 < 0 && ep->n_evidence < AN_MAX_EVIDENCE) {
            ep->evidence[ep->n_evidence].kind = "probe_no_icmp_socket";
            snprintf(ep->evidence[ep->n_evidence++].what, sizeof(ep->evidence[0].what),
                     "no ICMP echo socket: ping could not be part of the differential probes");
        }
    }
}

static int child_main(void *arg)
{
    struct probe_ctx *p = arg;
    /* ACRDIAG_PROBE_HOLD_MS: lets tests read /proc of the dropped process. */
    const char *hold = getenv("ACRDIAG_PROBE_HOLD_MS");
    if (hold) {
        long ms = strtol(hold, NULL, 10);
        if (ms > 0 && ms <= 5000)
            usleep((useconds_t)ms * 1000);
    }
    p->engine = an_engine_new(&p->cfg.an);
    if (!p->engine) {
        fprintf(stderr, "acrdiag probe: out of memory\n");
        return 2;
    }
    p->start_ns = probe_now_ns();
    p->deadline_ns = p->start_ns + (int64_t)(p->cfg.timeout_s * 1e9);
    probe_run_steps(p);

    /* The facts as analyze of the written capture reads them back. */
    for (unsigned i = 0; i < p->n_facts; i++)
        an_engine_add_fact(p->engine, &p->facts[i]);
    struct an_report r;
    an_engine_finish(p->engine, "probe", &r);
    an_engine_free(p->engine);
    p->engine = NULL;
    an_feed_drops(&p->feed, &r);
    note_missing(p, &r);

    int status = an_exit_status(r.verdict);
    if (write_report(&p->cfg, &r) != 0) {
        fprintf(stderr, "acrdiag probe: writing the report failed: %s\n", strerror(errno));
        status = 2;
    }
    an_report_free(&r);
    probe_keys_close(p);
    status = an_feed_detach(&p->feed, status);
    p->writer = NULL;
    return status;
}

static void close_handles(struct probe_ctx *p)
{
    free(p->keylog);                /* the parent's copy: never written to */
    p->keylog = NULL;
    cap_live_close(p->live);
    p->live = NULL;
    if (p->icmp4 >= 0)
        close(p->icmp4);
    if (p->icmp6 >= 0)
        close(p->icmp6);
    p->icmp4 = p->icmp6 = -1;
    probe_dns_close(p);
    probe_tls_close(p);
}

int probe_main(int argc, char **argv)
{
    char err[256];
    if (!privsep_refuse_setuid(err, sizeof(err))) {
        fprintf(stderr, "acrdiag probe: %s\n", err);
        return 2;
    }
    struct probe_ctx *p = calloc(1, sizeof(*p));
    if (!p) {
        fprintf(stderr, "acrdiag probe: out of memory\n");
        return 2;
    }
    p->cfg.timeout_s = 3.0;
    p->cfg.an.port = PROBE_PORT_TLS;
    p->icmp4 = p->icmp6 = -1;
    const char *username = NULL;
    bool password_stdin = false, token_stdin = false;
    int rc = parse(argc, argv, &p->cfg, &username, &password_stdin, &token_stdin);
    if (rc != 0 || p->cfg.dry_run) {
        if (rc == 0)
            print_plan(&p->cfg);
        free(p);
        return rc < 0 ? 0 : rc;
    }

    /* Credentials are read while privileged: the invoking user's Docker
     * config and credential helper (as that user), or stdin.  */
    if (p->cfg.push_repo && !push_creds_load(&p->cfg, username, token_stdin, err, sizeof(err))) {
        fprintf(stderr, "acrdiag probe: %s\n", err);
        push_creds_free(&p->cfg);
        free(p);
        return 2;
    }
    /* Everything privileged first (style.md "Privileges"). */
    /* Immediate mode: the probe waits on its own answers in the capture
     * (echo replies, a 60 ms drain), and its packets are few.  */
    struct cap_live_opts lo = { .iface = "any", .bpf = PROBE_BPF, .buffer_bytes = p->cfg.buffer_bytes };
    p->live = cap_live_open(&lo, p->live_err, sizeof(p->live_err));
    if (!p->live)
        fprintf(stderr, "acrdiag probe: warning: no packet capture (%s); the verdicts rest on the probe's own results\n",
                p->live_err);
    probe_icmp_open(p);
    if (!probe_dns_open(p, err, sizeof(err)) || !probe_tls_open(p, err, sizeof(err))) {
        fprintf(stderr, "acrdiag probe: %s\n", err);
        close_handles(p);
        push_creds_free(&p->cfg);
        free(p);
        return 2;
    }
    if (p->cfg.write_path) {
        p->writer = cap_writer_open(p->cfg.write_path, err, sizeof(err));
        if (!p->writer) {
            fprintf(stderr, "acrdiag probe: %s\n", err);
            close_handles(p);
            push_creds_free(&p->cfg);
            free(p);
            return 2;
        }
    }
    /* Not fatal: the capture is worth having without its keys. */
    if (!probe_keys_open(p, err, sizeof(err)))
        fprintf(stderr, "acrdiag probe: warning: %s; the capture has no keys\n", err);
    p->progress = isatty(2) != 0;

    struct cap_writer *w = p->writer;
    int status = privsep_run_unprivileged(PROBE_USER, child_main, p);
    /* The child wrote the file and its notes; only root may rename it. */
    status = an_feed_commit(w, status, "acrdiag probe");
    close_handles(p);
    push_creds_free(&p->cfg);
    free(p);
    return status;
}
