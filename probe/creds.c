/* creds.c: the push check's credentials, in the order a user expects:
 * --username with --password-stdin, --token-stdin, else the invoking
 * user's Docker configuration (credHelpers, credsStore, then auths, as the
 * docker CLI reads it).  A credential helper runs as that user, never as
 * root, with the host on its stdin.  Secrets stay in memory: never in
 * argv, the environment, the output or the capture.  */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "push.h"

#define CONFIG_MAX (1024 * 1024)    /* a config.json larger than this is not read */
#define HELPER_OUT_MAX (64 * 1024)
#define ACR_TOKEN_USER "00000000-0000-0000-0000-000000000000"

const char *push_cred_source_name(enum push_cred_source s)
{
    switch (s) {
    case PC_NONE: return "none";
    case PC_OPTION: return "password_stdin";
    case PC_DOCKER_AUTH: return "docker_config_auth";
    case PC_DOCKER_IDTOKEN: return "docker_config_identitytoken";
    case PC_HELPER: return "credential_helper";
    case PC_TOKEN_STDIN: return "token_stdin";
    }
    return "unknown";
}

void push_creds_wipe(struct push_creds *c)
{
    OPENSSL_cleanse(c->secret, sizeof(c->secret));
}

/* A secret is one line of visible ASCII (no spaces inside a token). */
static bool visible(const char *s, bool spaces)
{
    if (!*s)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p > 0x7e || *p < 0x20 || (!spaces && *p == ' '))
            return false;
    return true;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
}

/* The ACR refresh token from `az acr login --expose-token` output: its JSON
 * {"accessToken": ..., "loginServer": ...}, or the bare token.  */
static bool take_token(struct push_creds *c, char *in)
{
    char *s = in;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    if (*s != '{') {
        trim(s);
        snprintf(c->secret, sizeof(c->secret), "%s", s);
        return visible(c->secret, false);
    }
    json_error_t je;
    json_t *root = json_loads(s, 0, &je);
    const char *tok = root ? json_string_value(json_object_get(root, "accessToken")) : NULL;
    bool ok = tok && strlen(tok) < sizeof(c->secret);
    if (ok)
        snprintf(c->secret, sizeof(c->secret), "%s", tok);
    json_decref(root);          /* jansson does not wipe; the buffer was ours */
    return ok && visible(c->secret, false);
}

bool push_creds_stdin(struct push_creds *c, bool token, char *err, size_t errlen)
{
    char *buf = calloc(1, PUSH_SECRET_MAX + 2);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    size_t have = 0;
    while (have < PUSH_SECRET_MAX + 1) {
        ssize_t n = read(0, buf + have, PUSH_SECRET_MAX + 1 - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    bool ok = have > 0 && have <= PUSH_SECRET_MAX;
    const char *what = token ? "--token-stdin" : "--password-stdin";
    if (ok && token) {
        ok = take_token(c, buf);
        snprintf(c->user, sizeof(c->user), "%s", ACR_TOKEN_USER);
        c->source = PC_TOKEN_STDIN;
    } else if (ok) {
        char *nl = strchr(buf, '\n');
        if (nl)
            *nl = '\0';
        trim(buf);
        snprintf(c->secret, sizeof(c->secret), "%s", buf);
        ok = visible(c->secret, true);
        c->source = PC_OPTION;
    }
    OPENSSL_cleanse(buf, PUSH_SECRET_MAX + 2);
    free(buf);
    if (!ok) {
        push_creds_wipe(c);
        snprintf(err, errlen, "%s: standard input held no usable %s (one line, at most %u bytes)", what,
                 token ? "token" : "password", PUSH_SECRET_MAX);
    }
    return ok;
}

/* ---- the Docker configuration ------------------------------------------- */

/* The user who ran acrdiag: SUDO_USER when root ran it through sudo. */
static const struct passwd *invoking_user(void)
{
    const char *su = getenv("SUDO_USER");
    if (geteuid() == 0 && su && *su) {
        const struct passwd *pw = getpwnam(su);
        if (pw && pw->pw_uid != 0)
            return pw;
    }
    return getpwuid(getuid());
}

/* config.json of that user: $DOCKER_CONFIG, else ~/.docker.  Read as
 * root, so only a regular file owned by that user (or root), not a link. */
static json_t *load_config(const struct passwd *pw, char *note, size_t notelen)
{
    char path[1024];
    const char *dc = getenv("DOCKER_CONFIG");
    int n = dc && *dc ? snprintf(path, sizeof(path), "%s/config.json", dc)
                      : snprintf(path, sizeof(path), "%s/.docker/config.json", pw->pw_dir);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        snprintf(note, notelen, "the Docker config path is too long");
        return NULL;
    }
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(note, notelen, "no Docker config (%s)", errno == ENOENT ? "none in ~/.docker or $DOCKER_CONFIG" : strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX || (st.st_uid != pw->pw_uid && st.st_uid != 0)) {
        close(fd);
        snprintf(note, notelen, "the Docker config is not a regular file of %s under 1 MiB: not read", pw->pw_name);
        return NULL;
    }
    json_error_t je;
    json_t *root = json_loadfd(fd, 0, &je);
    close(fd);
    if (!json_is_object(root)) {
        json_decref(root);
        snprintf(note, notelen, "the Docker config is not JSON (line %d): not used", je.line);
        return NULL;
    }
    return root;
}

/* auths[host] (or "https://host"), as `docker login` writes it. */
static json_t *auth_entry(json_t *root, const char *host)
{
    json_t *auths = json_object_get(root, "auths");
    json_t *e = json_object_get(auths, host);
    if (!e) {
        char url[LIM_DNS_NAME + 16];
        snprintf(url, sizeof(url), "https://%s", host);
        e = json_object_get(auths, url);
    }
    return json_is_object(e) ? e : NULL;
}

static bool from_auth(struct push_creds *c, json_t *entry)
{
    const char *b64 = json_string_value(json_object_get(entry, "auth"));
    const char *idt = json_string_value(json_object_get(entry, "identitytoken"));
    char *plain = NULL;
    bool ok = false;
    if (b64 && strlen(b64) < 2 * PUSH_SECRET_MAX) {
        size_t n = strlen(b64);
        plain = calloc(1, n + 4);
        int got = plain ? EVP_DecodeBlock((unsigned char *)plain, (const unsigned char *)b64, (int)n) : -1;
        if (got > 0) {
            /* EVP_DecodeBlock counts the padding as zero bytes. */
            while (got > 0 && plain[got - 1] == '\0')
                got--;
            plain[got] = '\0';
            char *colon = strchr(plain, ':');
            if (colon && (size_t)(colon - plain) < sizeof(c->user) && strlen(colon + 1) < sizeof(c->secret)) {
                *colon = '\0';
                snprintf(c->user, sizeof(c->user), "%s", plain);
                snprintf(c->secret, sizeof(c->secret), "%s", colon + 1);
                c->source = PC_DOCKER_AUTH;
                ok = c->secret[0] != '\0';
            }
        }
        if (plain) {
            OPENSSL_cleanse(plain, n + 4);
            free(plain);
        }
    }
    if (idt && *idt && strlen(idt) < sizeof(c->secret)) {
        /* An identity token wins over the password (docker does the same). */
        snprintf(c->secret, sizeof(c->secret), "%s", idt);
        if (!c->user[0])
            snprintf(c->user, sizeof(c->user), "%s", ACR_TOKEN_USER);
        c->refresh_token = true;
        c->source = PC_DOCKER_IDTOKEN;
        ok = true;
    }
    return ok;
}

static bool helper_name_ok(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n >= 48)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') || (h[i] >= '0' && h[i] <= '9') ||
              h[i] == '-' || h[i] == '_' || h[i] == '.'))
            return false;
    return true;
}

/* The helper's child: the invoking user (never root), the host on stdin. */
static void helper_child(const struct passwd *pw, const char *helper, int in_fd, int out_fd)
{
    if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0)
        _exit(127);
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull >= 0)
        dup2(devnull, 2);
    closefrom(3);
    if (geteuid() == 0) {
        if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
            setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0 || setuid(0) == 0)
            _exit(126);
    }
    setenv("HOME", pw->pw_dir, 1);
    setenv("USER", pw->pw_name, 1);
    setenv("LOGNAME", pw->pw_name, 1);
    char prog[64];
    snprintf(prog, sizeof(prog), "docker-credential-%s", helper);
    char get[] = "get";
    char *argv[] = { prog, get, NULL };
    execvp(prog, argv);
    _exit(127);
}

static void run_helper(struct push_creds *c, const struct passwd *pw, const char *helper, const char *host,
                       double timeout_s)
{
    snprintf(c->helper, sizeof(c->helper), "%s", helper);
    if (!helper_name_ok(helper)) {
        snprintf(c->note, sizeof(c->note), "the credential helper name in the Docker config is not valid: not run");
        return;
    }
    if (pw->pw_uid == 0) {
        snprintf(c->note, sizeof(c->note), "docker-credential-%s was not run: the invoking user is root (run acrdiag through sudo from your own account)",
                 helper);
        return;
    }
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0)
        return;
    if (pipe2(out, O_CLOEXEC) != 0) {
        close(in[0]), close(in[1]);
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        helper_child(pw, helper, in[0], out[1]);
    close(in[0]);
    close(out[1]);
    if (pid < 0) {
        close(in[1]), close(out[0]);
        return;
    }
    /* A helper that exits without reading must not kill us by SIGPIPE. */
    struct sigaction ign = { .sa_handler = SIG_IGN }, old;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old);
    ssize_t wr = write(in[1], host, strlen(host));
    (void)wr;
    close(in[1]);
    sigaction(SIGPIPE, &old, NULL);
    char *buf = calloc(1, HELPER_OUT_MAX + 1);
    size_t have = 0;
    int64_t deadline = probe_now_ns() + (int64_t)(timeout_s * 1e9);
    while (buf && have < HELPER_OUT_MAX) {
        int64_t left = (deadline - probe_now_ns()) / 1000000;
        if (left <= 0)
            break;
        struct pollfd pf = { .fd = out[0], .events = POLLIN };
        if (poll(&pf, 1, (int)left) <= 0)
            break;
        ssize_t n = read(out[0], buf + have, HELPER_OUT_MAX - have);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    close(out[0]);
    int st = 0;
    pid_t w = waitpid(pid, &st, WNOHANG);
    if (w == 0) {
        kill(pid, SIGKILL);         /* our own child, past the deadline */
        waitpid(pid, &st, 0);
    }
    json_error_t je;
    json_t *root = buf && have ? json_loadb(buf, have, 0, &je) : NULL;
    const char *user = json_string_value(json_object_get(root, "Username"));
    const char *secret = json_string_value(json_object_get(root, "Secret"));
    if (user && secret && *secret && strlen(user) < sizeof(c->user) && strlen(secret) < sizeof(c->secret)) {
        c->source = PC_HELPER;
        /* docker's convention: Username "<token>" means an identity token. */
        c->refresh_token = strcmp(user, "<token>") == 0;
        snprintf(c->user, sizeof(c->user), "%s", c->refresh_token ? ACR_TOKEN_USER : user);
        snprintf(c->secret, sizeof(c->secret), "%s", secret);
    } else {
        snprintf(c->note, sizeof(c->note), "docker-credential-%s get gave no credentials for %s (exit %d)", helper,
                 host, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    }
    json_decref(root);
    if (buf) {
        OPENSSL_cleanse(buf, HELPER_OUT_MAX + 1);
        free(buf);
    }
}

void push_creds_docker(struct push_creds *c, const char *host, double timeout_s)
{
    const struct passwd *pw = invoking_user();
    if (!pw) {
        snprintf(c->note, sizeof(c->note), "the invoking user is unknown: no Docker config read");
        return;
    }
    json_t *root = load_config(pw, c->note, sizeof(c->note));
    if (!root)
        return;
    const char *helper = json_string_value(json_object_get(json_object_get(root, "credHelpers"), host));
    const char *store = json_string_value(json_object_get(root, "credsStore"));
    json_t *entry = auth_entry(root, host);
    if (helper)
        run_helper(c, pw, helper, host, timeout_s);
    else if (store && *store)
        run_helper(c, pw, store, host, timeout_s);
    else if (!entry || !from_auth(c, entry))
        snprintf(c->note, sizeof(c->note), "the Docker config of %s holds no credentials for %s", pw->pw_name, host);
    json_decref(root);
}

bool push_creds_load(struct probe_cfg *cfg, const char *username, bool token_stdin, char *err,
                     size_t errlen)
{
    struct push_creds *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    cfg->creds = c;
    c->tls = SSL_CTX_new(TLS_client_method());
    static const unsigned char alpn[] = "\x08http/1.1";
    if (!c->tls || SSL_CTX_set_min_proto_version(c->tls, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_alpn_protos(c->tls, alpn, sizeof(alpn) - 1) != 0) {
        snprintf(err, errlen, "TLS: cannot create the push check's context");
        return false;
    }
    /* As the probe's: the handshake completes whatever the chain; the
     * verification result is read afterwards and reported.  */
    SSL_CTX_set_verify(c->tls, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(c->tls, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_set_default_verify_paths(c->tls) != 1)
        ERR_clear_error();
    if (cfg->cacert && SSL_CTX_load_verify_locations(c->tls, cfg->cacert, NULL) != 1) {
        snprintf(err, errlen, "--cacert %s: not a readable PEM certificate file", cfg->cacert);
        return false;
    }
    if (username) {
        snprintf(c->user, sizeof(c->user), "%s", username);
        return push_creds_stdin(c, false, err, errlen);
    }
    if (token_stdin)
        return push_creds_stdin(c, true, err, errlen);
    push_creds_docker(c, cfg->names[0], cfg->timeout_s);
    return true;
}

void push_creds_free(struct probe_cfg *cfg)
{
    if (!cfg->creds)
        return;
    push_creds_wipe(cfg->creds);
    SSL_CTX_free(cfg->creds->tls);
    OPENSSL_cleanse(cfg->creds->user, sizeof(cfg->creds->user));
    free(cfg->creds);
    cfg->creds = NULL;
}
