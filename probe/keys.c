/* keys.c: the TLS secrets of the probe's own connections (OpenSSL's key
 * log callback, NSS key log lines as SSLKEYLOGFILE has them), kept in
 * memory up to the room reserved in the -w file's Decryption Secrets Block
 * and written there at the end: the capture then opens decrypted in
 * Wireshark and in `acrdiag analyze`.  For watch -- COMMAND, the command's
 * own SSLKEYLOGFILE (curl, Python, az honour it) in a private directory is
 * taken the same way.  The secrets are never printed.  */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe.h"
#include "probe_int.h"

/* A probe run makes at most a few dozen handshakes (~1 KiB of lines each). */
#define PROBE_KEYLOG_ROOM (128u * 1024u)

static void on_keylog(const SSL *ssl, const char *line)
{
    struct probe_ctx *p = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    size_t n = strlen(line);
    if (!p || !p->keylog)
        return;
    if (p->keylog_len + n + 1 > PROBE_KEYLOG_ROOM) {
        p->keylog_cut = true;
        return;
    }
    memcpy(p->keylog + p->keylog_len, line, n);
    p->keylog[p->keylog_len + n] = '\n';
    p->keylog_len += n + 1;
}

bool probe_keys_open(struct probe_ctx *p, char *err, size_t errlen)
{
    if (!p->writer || p->cfg.no_keys)
        return true;
    p->keylog = malloc(PROBE_KEYLOG_ROOM);
    if (!p->keylog || cap_writer_reserve_secrets(p->writer, PROBE_KEYLOG_ROOM) != 0) {
        snprintf(err, errlen, "%s: cannot reserve the key log block", p->cfg.write_path);
        return false;
    }
    SSL_CTX *ctxs[2] = { p->tls, p->tls_pad };
    for (int i = 0; i < 2; i++) {
        SSL_CTX_set_app_data(ctxs[i], p);
        SSL_CTX_set_keylog_callback(ctxs[i], on_keylog);
    }
    return true;
}

void probe_keys_close(struct probe_ctx *p)
{
    if (!p->keylog)
        return;
    if (p->writer) {
        size_t kept = cap_writer_secrets(p->writer, p->keylog, p->keylog_len);
        if (p->keylog_cut || kept < p->keylog_len)
            fprintf(stderr, "acrdiag probe: warning: the key log in %s is cut at %zu bytes\n", p->cfg.write_path,
                    kept);
    }
    OPENSSL_cleanse(p->keylog, PROBE_KEYLOG_ROOM);
    free(p->keylog);
    p->keylog = NULL;
}

/* ---- watch -- COMMAND: the command's SSLKEYLOGFILE ------------------------------ */

bool probe_keylog_dir_make(char *dir, size_t dirlen, char *err, size_t errlen)
{
    snprintf(dir, dirlen, "/tmp/acrdiag-keys.XXXXXX");
    if (!mkdtemp(dir)) {
        snprintf(err, errlen, "cannot make a directory for the command's key log: %s", strerror(errno));
        return false;
    }
    /* The command runs as the invoking user (sudo): the directory is its. */
    const char *su = getenv("SUDO_UID"), *sg = getenv("SUDO_GID");
    if (getuid() == 0 && su && *su && sg && *sg) {
        uid_t uid = (uid_t)strtoul(su, NULL, 10);
        gid_t gid = (gid_t)strtoul(sg, NULL, 10);
        if (chown(dir, uid, gid) != 0) {
            snprintf(err, errlen, "%s: %s", dir, strerror(errno));
            rmdir(dir);
            return false;
        }
    }
    return true;
}

size_t probe_keylog_take(const char *dir, struct cap_writer *w)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/" PROBE_KEYLOG_NAME, dir);
    struct stat dst;
    size_t kept = 0;
    /* The directory's owner may have put anything there: only a regular
     * file of its own, never a link, and only LIM_WRITER_SECRETS bytes.  */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && stat(dir, &dst) == 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == dst.st_uid &&
        st.st_nlink == 1) {
        char *buf = malloc(LIM_WRITER_SECRETS);
        ssize_t n = buf ? read(fd, buf, LIM_WRITER_SECRETS) : -1;
        if (n > 0 && w)
            kept = cap_writer_secrets(w, buf, (size_t)n);
        if (buf) {
            OPENSSL_cleanse(buf, LIM_WRITER_SECRETS);
            free(buf);
        }
    }
    if (fd >= 0)
        close(fd);
    unlink(path);
    rmdir(dir);
    return kept;
}
