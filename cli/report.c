/* report.c: the report in the format asked for, and its destination
 * (-o): a regular file replaced atomically, anything else in place.  */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int report_write(const struct cli *c, FILE *out, const struct an_report *r)
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

int output_open(struct output *o, const char *path)
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

void output_abort(struct output *o)
{
    if (!o->path)
        return;
    fclose(o->fp);
    if (o->atomic)
        unlink(o->tmp);
}

int output_close(struct output *o, int wrc)
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
