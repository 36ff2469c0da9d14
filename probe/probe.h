/* probe.h: the public interface of probe/: traffic that creates evidence
 * (privilege separation is capture/privsep.h).  */
#ifndef ACRDIAG_PROBE_H
#define ACRDIAG_PROBE_H

#include <stdbool.h>
#include <stddef.h>

/* `acrdiag probe NAME [options]`: active diagnosis of a registry (issue 5).
 * Returns the exit status of verdicts.md.  */
int probe_main(int argc, char **argv);

/* watch -w -- COMMAND (keys.c): a private directory for the command's
 * SSLKEYLOGFILE (DIR/PROBE_KEYLOG_NAME), owned by the invoking user under
 * sudo; made before the command starts.  */
#define PROBE_KEYLOG_NAME "sslkeys.log"
bool probe_keylog_dir_make(char *dir, size_t dirlen, char *err, size_t errlen);
/* After the command: its key log (a regular file of the directory's owner,
 * at most LIM_WRITER_SECRETS bytes) into w's reserved secrets block, then
 * the file and directory removed (w NULL: only removed).  Returns the
 * bytes kept.  */
struct cap_writer;
size_t probe_keylog_take(const char *dir, struct cap_writer *w);

/* watch (proxysrc.c): appends " or tcp port N" to a capture filter for each
 * http:// proxy the shell, the Docker daemon or the client config names, so
 * a push through an explicit proxy is captured too.  */
void probe_proxy_watch_filter(char *filter, size_t len);

#endif
