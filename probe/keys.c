/* keys.c: the TLS secrets of the probe's own connections (OpenSSL's key
 * log callback, NSS key log lines as SSLKEYLOGFILE has them), kept in
 * memory up to the room reserved in the -w file's Decryption Secrets Block
 * and written there at the end: the capture then opens decrypted in
 * Wireshark and in `acrdiag analyze`.  The secrets are never printed.  */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
