/* acrdiag.c: the command line: tells why pushes to Azure Container Registry
 * fail, and proves it with packets.  Picks the command; the commands live
 * in cli/ (analyze.c, watch.c) and probe/ (probe_main).  */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "probe/probe.h"

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
        return cli_fail_usage("missing command", NULL);
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0 || strcmp(cmd, "version") == 0) {
        printf("acrdiag %s\n", ACRDIAG_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        cli_usage(NULL);
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
            argv[0] = analyze_word;     /* cli_parse_options skips argv[0] */
            return cli_analyze(argc, argv);
        }
    }
    if (strcmp(cmd, "analyze") == 0)
        return cli_analyze(argc - 1, argv + 1);
    if (strcmp(cmd, "watch") == 0)
        return cli_watch(argc - 1, argv + 1);
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
    return cli_fail_usage("unknown command", cmd);
}

