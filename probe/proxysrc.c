/* proxysrc.c: where proxy settings come from: the shell's environment,
 * the Docker daemon's daemon.json and systemd drop-ins, the client's
 * config.json.  Every file is read bounded; a file that cannot be used
 * leaves a note for the report, never a failure.  */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe.h"
#include "proxy.h"

static void set_proxy(struct proxy_setting *s, const char *value, const char *origin)
{
    s->present = true;
    s->has_proxy = value[0] != '\0';
    snprintf(s->origin, sizeof(s->origin), "%s", origin);
    if (s->has_proxy && !proxy_url_parse(value, &s->url))
        s->url.usable = false;
}

static void set_no_proxy(struct proxy_setting *s, const char *value)
{
    s->present = true;
    if (strlen(value) >= sizeof(s->no_proxy))
        snprintf(s->note, sizeof(s->note), "NO_PROXY longer than %u bytes: cut", PROXY_NO_PROXY_MAX - 1);
    snprintf(s->no_proxy, sizeof(s->no_proxy), "%s", value);
}

/* One systemd word, unquoted: "a b", 'a b' or a b (C escapes \" \\ \'). */
static const char *next_word(const char *p, const char *end, char *out, size_t outlen)
{
    size_t o = 0;
    while (p < end && isspace((unsigned char)*p))
        p++;
    if (p >= end)
        return NULL;
    char quote = 0;
    while (p < end) {
        char c = *p;
        if (!quote && (c == '"' || c == '\'')) {
            quote = c;
        } else if (quote && c == quote) {
            quote = 0;
        } else if (!quote && isspace((unsigned char)c)) {
            break;
        } else {
            if (c == '\\' && p + 1 < end)
                c = *++p;
            if (o + 1 < outlen)
                out[o++] = c;
        }
        p++;
    }
    out[o] = '\0';
    return p;
}

void proxy_parse_dropin(const char *text, size_t len, const char *origin, struct proxy_setting *s)
{
    bool service = false;
    const char *end = text + len;
    char line[4096];
    /* Bounded by the text: each turn consumes one (continued) line. */
    for (const char *p = text; p < end;) {
        size_t o = 0;
        bool cont = true;
        /* A line ending in a backslash goes on in the next one. */
        while (cont && p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *next = nl ? nl + 1 : end;
            size_t n = (size_t)((nl ? nl : end) - p);
            if (n && p[n - 1] == '\r')
                n--;
            cont = n > 0 && p[n - 1] == '\\';
            if (cont)
                n--;
            size_t take = n < sizeof(line) - 1 - o ? n : sizeof(line) - 1 - o;
            memcpy(line + o, p, take);
            o += take;
            if (cont && o + 1 < sizeof(line))
                line[o++] = ' ';
            p = next;
        }
        line[o] = '\0';
        char *l = line;
        while (isspace((unsigned char)*l))
            l++;
        if (*l == '#' || *l == ';' || *l == '\0')
            continue;
        if (*l == '[') {
            service = strncmp(l, "[Service]", 9) == 0;
            continue;
        }
        char *eq = strchr(l, '=');
        if (!service || !eq)
            continue;
        char *k_end = eq;
        while (k_end > l && isspace((unsigned char)k_end[-1]))
            k_end--;
        if ((size_t)(k_end - l) != strlen("Environment") || strncmp(l, "Environment", 11) != 0)
            continue;
        const char *v = eq + 1, *vend = line + o;
        char word[PROXY_NO_PROXY_MAX + 32];
        bool any = false;
        while ((v = next_word(v, vend, word, sizeof(word))) != NULL) {
            any = true;
            char *weq = strchr(word, '=');
            if (!weq)
                continue;
            *weq = '\0';
            if (strcmp(word, "HTTPS_PROXY") == 0 || (strcmp(word, "https_proxy") == 0 && !s->has_proxy))
                set_proxy(s, weq + 1, origin);
            else if (strcmp(word, "NO_PROXY") == 0 || (strcmp(word, "no_proxy") == 0 && !s->no_proxy[0]))
                set_no_proxy(s, weq + 1);
        }
        if (!any) {
            /* "Environment=" resets every assignment before it. */
            struct proxy_setting fresh = { 0 };
            snprintf(fresh.note, sizeof(fresh.note), "%s", s->note);
            *s = fresh;
        }
    }
}

static const char *json_str(json_t *obj, const char *key, struct proxy_setting *s, const char *origin)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return NULL;
    if (!json_is_string(v)) {
        snprintf(s->note, sizeof(s->note), "%s: \"%s\" is not a string: ignored", origin, key);
        return NULL;
    }
    return json_string_value(v);
}

static void parse_json_proxies(const char *text, size_t len, const char *origin, struct proxy_setting *s,
                               bool client)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        /* Line and column only: jansson's text quotes the bytes near the
         * error, which may be a proxy password.  */
        snprintf(s->note, sizeof(s->note), "%s: not a JSON object (line %d, column %d): ignored", origin,
                 root ? 1 : jerr.line, root ? 1 : jerr.column);
        json_decref(root);
        return;
    }
    json_t *px = json_object_get(root, "proxies");
    if (px && client)
        px = json_object_get(px, "default");
    if (px && !json_is_object(px)) {
        snprintf(s->note, sizeof(s->note), "%s: \"proxies\" is not an object: ignored", origin);
    } else if (px) {
        const char *https = json_str(px, client ? "httpsProxy" : "https-proxy", s, origin);
        const char *no = json_str(px, client ? "noProxy" : "no-proxy", s, origin);
        if (https)
            set_proxy(s, https, origin);
        if (no)
            set_no_proxy(s, no);
        if (no && !https)
            snprintf(s->origin, sizeof(s->origin), "%s", origin);
    }
    json_decref(root);
}

void proxy_parse_daemon_json(const char *text, size_t len, const char *origin, struct proxy_setting *s)
{
    parse_json_proxies(text, len, origin, s, false);
}

void proxy_parse_client_json(const char *text, size_t len, const char *origin, struct proxy_setting *s)
{
    parse_json_proxies(text, len, origin, s, true);
}

/* Reads a regular file of at most PROXY_FILE_MAX bytes; NULL with a note
 * otherwise (absent: NULL and no note).  */
static char *read_small(const char *path, size_t *len, char *note, size_t notelen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        if (errno != ENOENT && errno != ENOTDIR)
            snprintf(note, notelen, "%.120s: %s: not read", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        snprintf(note, notelen, "%.120s: not a regular file: not read", path);
    else if (st.st_size > (off_t)PROXY_FILE_MAX)
        snprintf(note, notelen, "%.120s: larger than %u KiB: not read", path, PROXY_FILE_MAX / 1024);
    else if ((buf = malloc((size_t)st.st_size + 1)) != NULL) {
        ssize_t n = read(fd, buf, (size_t)st.st_size);
        if (n < 0) {
            snprintf(note, notelen, "%.120s: %s: not read", path, strerror(errno));
            free(buf);
            buf = NULL;
        } else {
            buf[n] = '\0';
            *len = (size_t)n;
        }
    }
    close(fd);
    return buf;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int conf_only(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 5 && strcmp(d->d_name + n - 5, ".conf") == 0 && d->d_name[0] != '.';
}

static void read_dropins(struct proxy_cfg *c, const char *root)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/etc/systemd/system/docker.service.d", root);
    struct dirent **list = NULL;
    int n = scandir(dir, &list, conf_only, alphasort);
    if (n < 0)
        return;
    c->daemon_installed = true;
    struct proxy_setting *s = &c->src[PXS_SYSTEMD];
    /* systemd reads them in name order; a later assignment wins. */
    for (int i = 0; i < n; i++) {
        if (i < (int)PROXY_DROPINS_MAX) {
            char path[PATH_MAX + 256];
            size_t len = 0;
            snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
            char *text = read_small(path, &len, s->note, sizeof(s->note));
            if (text)
                proxy_parse_dropin(text, len, path + strlen(root), s);
            free(text);
        } else if (i == (int)PROXY_DROPINS_MAX) {
            snprintf(s->note, sizeof(s->note), "%.120s: more than %u drop-ins: the rest not read", dir, PROXY_DROPINS_MAX);
        }
        free(list[i]);
    }
    free(list);
}

static void read_env(struct proxy_cfg *c)
{
    struct proxy_setting *s = &c->src[PXS_ENV];
    static const char *const names[] = { "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = getenv(names[i]);
        if (v && v[0]) {
            set_proxy(s, v, names[i]);
            if (i >= 2)
                snprintf(s->note, sizeof(s->note), "%s is used by curl only: Go programs such as docker ignore it",
                         names[i]);
            break;
        }
    }
    const char *no = getenv("NO_PROXY");
    if (!no || !no[0])
        no = getenv("no_proxy");
    if (no && no[0])
        set_no_proxy(s, no);
    if (s->present && !s->has_proxy)
        snprintf(s->origin, sizeof(s->origin), "NO_PROXY");
}

/* The invoking user's client config: $DOCKER_CONFIG, else the home of
 * SUDO_USER when running as root through sudo, else $HOME.  */
static void read_client(struct proxy_cfg *c)
{
    char path[PATH_MAX];
    const char *dc = getenv("DOCKER_CONFIG"), *home = getenv("HOME"), *sudo = getenv("SUDO_USER");
    if (geteuid() == 0 && sudo && sudo[0]) {
        struct passwd *pw = getpwnam(sudo);
        if (pw && pw->pw_dir)
            home = pw->pw_dir;
    }
    if (dc && dc[0])
        snprintf(path, sizeof(path), "%s/config.json", dc);
    else if (home && home[0])
        snprintf(path, sizeof(path), "%s/.docker/config.json", home);
    else
        return;
    struct proxy_setting *s = &c->src[PXS_CLIENT];
    size_t len = 0;
    char *text = read_small(path, &len, s->note, sizeof(s->note));
    if (text)
        proxy_parse_client_json(text, len, path, s);
    free(text);
}

void proxy_cfg_read(struct proxy_cfg *c, const char *root)
{
    if (!root || strcmp(root, "/") == 0)
        root = "";
    read_env(c);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/etc/docker/daemon.json", root);
    struct proxy_setting *dj = &c->src[PXS_DAEMON_JSON];
    size_t len = 0;
    char *text = read_small(path, &len, dj->note, sizeof(dj->note));
    if (text || dj->note[0])
        c->daemon_installed = true;
    if (text)
        proxy_parse_daemon_json(text, len, "/etc/docker/daemon.json", dj);
    free(text);
    read_dropins(c, root);
    static const char *const units[] = { "/etc/systemd/system/docker.service", "/lib/systemd/system/docker.service",
                                         "/usr/lib/systemd/system/docker.service" };
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && !c->daemon_installed; i++) {
        snprintf(path, sizeof(path), "%s%s", root, units[i]);
        c->daemon_installed = exists(path);
    }
    read_client(c);
}


void probe_proxy_watch_filter(char *filter, size_t len)
{
    struct proxy_cfg c;
    memset(&c, 0, sizeof(c));
    proxy_cfg_read(&c, NULL);
    uint16_t seen[PXS_COUNT];
    unsigned n = 0;
    for (int s = PXS_ENV; s < PXS_COUNT; s++) {
        const struct proxy_url *u = &c.src[s].url;
        bool dup = false;
        for (unsigned i = 0; i < n; i++)
            dup = dup || seen[i] == u->port;
        if (!c.src[s].has_proxy || !u->usable || dup || u->port == 443 || u->port == 80)
            continue;
        seen[n++] = u->port;
        size_t o = strlen(filter);
        snprintf(filter + o, len - o, " or tcp port %u", u->port);
    }
}
