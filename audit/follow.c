/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
/* Following the log like `tail -F`: new complete lines as they are
 * appended, through truncation of a torn tail and through rotation. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit-internal.h"
#include "common/macros.h"

#define FOLLOW_CAP   ((size_t)OB_AUDIT_MAX_LINE + 1)
#define POLL_TIMEOUT 500 /* ms; a fallback when inotify says nothing */

typedef struct follower {
        const char *path;
        const ob_audit_filter *filter;
        ob_audit_follow_fn fn;
        void *userdata;
        int fd, ino_fd;
        dev_t dev;
        ino_t ino;
        off_t off;
        char *buf;
        size_t have;
        bool skipping;     /* inside an over-long line: drop up to its newline */
        bool catching_up;  /* replaying a rotated file: only seq > last_seq */
        uint64_t last_seq; /* of the last line read, matching or not */
} follower;

static int open_target(follower *f, bool from_start)
{
        struct stat st;

        f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
        if (f->fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (fstat(f->fd, &st) < 0)
                return negative_errno();
        f->dev = st.st_dev, f->ino = st.st_ino;
        f->off = from_start ? 0 : st.st_size;
        f->have = 0, f->skipping = false;
        return 0;
}

static bool matches(const ob_audit_filter *flt, const ob_audit_record *rec)
{
        if (!flt)
                return true;
        if (flt->type && !streq(flt->type, rec->type))
                return false;
        if (flt->sandbox_id && (!rec->sandbox_id || !streq(flt->sandbox_id, rec->sandbox_id)))
                return false;
        return rec->seq >= flt->since_seq;
}

/* Hands one complete line (NUL-terminated in place) to fn when it decodes
 * and matches; lines that do not decode are not events and are skipped. */
static int deliver(follower *f, char *line, size_t len)
{
        ob_audit_record rec = {0};
        int r = 0;

        line[len] = '\0';
        if (ob_audit_line_decode(line, len, &rec, NULL) < 0)
                return 0;
        if (f->catching_up && rec.seq <= f->last_seq) {
                ob_audit_record_done(&rec);
                return 0;
        }
        f->last_seq = rec.seq;
        if (matches(f->filter, &rec))
                r = f->fn(line, len, f->userdata);
        ob_audit_record_done(&rec);
        return r;
}

static int consume_lines(follower *f)
{
        size_t start = 0;
        char *nl;
        int r;

        while ((nl = memchr(f->buf + start, '\n', f->have - start))) {
                size_t len = (size_t)(nl - f->buf) - start;
                r = f->skipping ? 0 : deliver(f, f->buf + start, len);
                f->skipping = false;
                if (r != 0)
                        return r;
                start += len + 1;
        }
        memmove(f->buf, f->buf + start, f->have - start);
        f->have -= start;
        if (f->have == FOLLOW_CAP) {
                f->skipping = true;
                f->have = 0;
        }
        return 0;
}

/* The partial line we hold (a line being written, or a torn tail) is still
 * what the file has at its place. A writer that repairs a torn tail
 * truncates it and appends again; when it appended more than was torn
 * before we look, the size never shrank below our offset, so only the
 * bytes tell. When they differ, read again from where the partial line
 * began: that is where the writer cut (issue 14 defect 3). */
static int check_partial(follower *f)
{
        char chunk[4096];
        off_t at = f->off - (off_t)f->have;

        for (size_t done = 0; done < f->have;) {
                size_t n = f->have - done < sizeof(chunk) ? f->have - done : sizeof(chunk);
                ssize_t k = pread(f->fd, chunk, n, at + (off_t)done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if ((size_t)k != n || memcmp(chunk, f->buf + done, n) != 0) {
                        f->off = at;
                        f->have = 0;
                        return 0;
                }
                done += n;
        }
        return 0;
}

/* Reads to the end of the open file, delivering every complete line. */
static int drain(follower *f)
{
        if (f->have > 0 && !f->skipping) {
                int r = check_partial(f);
                if (r < 0)
                        return r;
        }
        for (;;) {
                ssize_t k = pread(f->fd, f->buf + f->have, FOLLOW_CAP - f->have, f->off);
                int r;
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        return 0;
                f->off += k;
                f->have += (size_t)k;
                r = consume_lines(f);
                if (r != 0)
                        return r;
        }
}

/* After a drain: notices truncation (a writer dropped a torn tail) and
 * rotation (another file at the path), which closes the old file. */
static int check_file(follower *f)
{
        struct stat st, pst;
        int r;

        if (fstat(f->fd, &st) < 0)
                return negative_errno();
        if (st.st_size < f->off) {
                f->off = st.st_size;
                f->have = 0, f->skipping = false;
        }
        if (stat(f->path, &pst) == 0) {
                if (pst.st_dev == f->dev && pst.st_ino == f->ino)
                        return 0;
        } else if (errno != ENOENT) {
                return negative_errno();
        }
        r = drain(f); /* whatever was appended before the rotation */
        closep(&f->fd);
        f->fd = -1;
        return r;
}

/* The seq of the first line of the file at path, 0 when there is none. */
static uint64_t first_seq(const char *path, char *buf)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        ob_audit_record rec = {0};
        ssize_t k = fd < 0 ? -1 : pread(fd, buf, FOLLOW_CAP, 0);
        char *nl = k > 0 ? memchr(buf, '\n', (size_t)k) : NULL;
        uint64_t seq = 0;

        if (nl && ob_audit_line_decode(buf, (size_t)(nl - buf), &rec, NULL) == 0)
                seq = rec.seq;
        ob_audit_record_done(&rec);
        return seq;
}

/* Reads the whole rotated file at path through deliver(), passing on only
 * the lines after the last one seen. Uses f's buffer, which is empty. */
static int replay_rotated(follower *f, const char *path)
{
        int fd = f->fd, r;
        off_t off = f->off;

        f->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (f->fd < 0) {
                f->fd = fd;
                return 0;
        }
        f->off = 0, f->have = 0, f->skipping = false, f->catching_up = true;
        r = drain(f);
        close(f->fd);
        f->fd = fd, f->off = off, f->have = 0, f->skipping = false, f->catching_up = false;
        return r;
}

/* After a rotation, when the new file does not start right after the last
 * line seen, more than one rotation happened meanwhile: the files in between
 * are LOG.1, LOG.2, ...; replays them oldest first. */
static int catch_up(follower *f)
{
        char name[4096];
        uint64_t next = first_seq(f->path, f->buf);
        int k, r;

        if (f->last_seq == 0 || next <= f->last_seq + 1)
                return 0;
        for (k = 1; k <= 64; k++) {
                uint64_t s;
                snprintf(name, sizeof(name), "%s.%d", f->path, k);
                s = first_seq(name, f->buf);
                if (s == 0)
                        return 0; /* gone: nothing to replay */
                if (s <= f->last_seq + 1)
                        break;
        }
        for (; k >= 1; k--) {
                snprintf(name, sizeof(name), "%s.%d", f->path, k);
                r = replay_rotated(f, name);
                if (r != 0)
                        return r;
        }
        return 0;
}

static void wait_for_change(follower *f)
{
        char events[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        struct pollfd p = {.fd = f->ino_fd, .events = POLLIN};

        if (f->ino_fd < 0) {
                (void)poll(NULL, 0, POLL_TIMEOUT / 2);
                return;
        }
        if (poll(&p, 1, POLL_TIMEOUT) > 0)
                while (read(f->ino_fd, events, sizeof(events)) > 0)
                        ;
}

static int watch_dir(follower *f)
{
        _cleanup_free_ char *copy = strdup(f->path);

        if (!copy)
                return -ENOMEM;
        f->ino_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (f->ino_fd >= 0 && inotify_add_watch(f->ino_fd, dirname(copy),
                                                IN_MODIFY | IN_CREATE | IN_MOVED_TO |
                                                    IN_MOVED_FROM | IN_DELETE | IN_ATTRIB) < 0)
                closep(&f->ino_fd), f->ino_fd = -1;
        return 0;
}

static int follow_loop(follower *f)
{
        bool first = true;
        int r;

        for (;;) {
                if (f->fd < 0) {
                        r = open_target(f, !first || (f->filter && f->filter->since_seq > 0));
                        if (r == 0 && !first && f->fd >= 0)
                                r = catch_up(f);
                        if (r != 0)
                                return r;
                        first = false;
                }
                if (f->fd >= 0) {
                        r = drain(f);
                        if (r == 0)
                                r = check_file(f);
                        if (r != 0)
                                return r;
                        if (f->fd < 0)
                                continue; /* rotated: read the new file at once */
                }
                wait_for_change(f);
                r = f->fn(NULL, 0, f->userdata); /* a tick: the caller may stop */
                if (r != 0)
                        return r;
        }
}

/* Follows path until fn stops it; returns fn's value or -errno. */
int ob_audit_follow(const char *path, const ob_audit_filter *filter, ob_audit_follow_fn fn,
                    void *userdata)
{
        follower f = {
            .path = path, .filter = filter, .fn = fn, .userdata = userdata, .fd = -1, .ino_fd = -1};
        int r;

        f.buf = malloc(FOLLOW_CAP + 1);
        if (!f.buf)
                return -ENOMEM;
        r = watch_dir(&f);
        if (r >= 0)
                r = follow_loop(&f);
        closep(&f.fd);
        closep(&f.ino_fd);
        free(f.buf);
        return r;
}

/* An offset in fd (size bytes) where to start reading for the lines with
 * seq >= since: the start of a line whose seq is smaller (or 0), found by
 * bisection, so that a query near the end of a long log does not decode
 * all of it. Best effort: where a probe finds no whole line, it stops
 * early (an earlier start only costs time). */
static off_t seek_seq(int fd, off_t size, uint64_t since, char *buf)
{
        off_t lo = 0, hi = size;

        while (since > 1 && hi - lo > (off_t)FOLLOW_CAP) {
                off_t mid = lo + (hi - lo) / 2;
                ssize_t k = pread(fd, buf, FOLLOW_CAP, mid);
                char *nl = k > 0 ? memchr(buf, '\n', (size_t)k) : NULL;
                char *end = nl ? memchr(nl + 1, '\n', (size_t)(buf + k - (nl + 1))) : NULL;
                ob_audit_record rec = {0};
                if (!end || ob_audit_line_decode(nl + 1, (size_t)(end - nl - 1), &rec, NULL) < 0)
                        break;
                if (rec.seq < since)
                        lo = mid + (nl + 1 - buf);
                else
                        hi = mid;
                ob_audit_record_done(&rec);
        }
        return lo;
}

/* Reads the file at path (a missing one has no lines) through deliver(). */
static int scan_file(follower *f, const char *path)
{
        struct stat st;
        int r = 0;

        f->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (f->fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (fstat(f->fd, &st) < 0)
                r = negative_errno();
        f->have = 0, f->skipping = false;
        if (r == 0) {
                f->off = seek_seq(f->fd, st.st_size, f->filter ? f->filter->since_seq : 0, f->buf);
                r = drain(f);
        }
        closep(&f->fd);
        return r;
}

/* Reads path once, from its start to its end, and never waits. When
 * since_seq is older than its first line, the rotated files that hold the
 * lines from since_seq on are read first, oldest first. */
int ob_audit_scan(const char *path, const ob_audit_filter *filter, ob_audit_follow_fn fn,
                  void *userdata)
{
        follower f = {.path = path,
                      .filter = filter,
                      .fn = fn,
                      .userdata = userdata,
                      .fd = -1,
                      .ino_fd = -1,
                      .catching_up = true}; /* across files: each seq once */
        uint64_t since = filter ? filter->since_seq : 0, first;
        char name[4096];
        int k = 0, r = 0;

        f.buf = malloc(FOLLOW_CAP + 1);
        if (!f.buf)
                return -ENOMEM;
        first = first_seq(path, f.buf);
        while (since > 0 && first > since && k < 64) {
                snprintf(name, sizeof(name), "%s.%d", path, k + 1);
                first = first_seq(name, f.buf);
                if (first == 0)
                        break; /* no older file */
                k++;
        }
        for (; r == 0 && k >= 1; k--) {
                snprintf(name, sizeof(name), "%s.%d", path, k);
                r = scan_file(&f, name);
        }
        if (r == 0)
                r = scan_file(&f, path);
        free(f.buf);
        return r;
}
