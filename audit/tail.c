/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
/* Finding the last complete line of a log and the torn bytes after it. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit-internal.h"
#include "common/macros.h"

/* The last line and a torn tail, each at most a line and its newline. */
#define TAIL_WINDOW_MAX (2 * ((size_t)OB_AUDIT_MAX_LINE + 1))
#define TAIL_WINDOW_MIN ((size_t)16384)

static int pread_all(int fd, char *buf, size_t len, off_t off)
{
        while (len > 0) {
                ssize_t k = pread(fd, buf, len, off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        return -EIO; /* the file shrank under the lock */
                buf += k, len -= (size_t)k, off += k;
        }
        return 0;
}

static const char *last_nl(const char *buf, size_t n)
{
        return n ? memrchr(buf, '\n', n) : NULL;
}

/* Within buf (the last n bytes of the file; at_start when it is the whole
 * file) finds the last line [*off, *off + *len) and the torn byte count.
 * -EAGAIN when the window is too small to tell. */
static int find_tail(const char *buf, size_t n, bool at_start, size_t *off, size_t *len,
                     size_t *torn)
{
        const char *nl = last_nl(buf, n), *prev;

        if (!nl) {
                if (!at_start)
                        return -EAGAIN;
                *off = *len = 0, *torn = n;
                return 0;
        }
        *torn = n - (size_t)(nl - buf) - 1;
        prev = last_nl(buf, (size_t)(nl - buf));
        if (!prev && !at_start)
                return -EAGAIN;
        *off = prev ? (size_t)(prev - buf) + 1 : 0;
        *len = (size_t)(nl - buf) - *off;
        return 0;
}

/* The last complete line of fd and the torn byte count after it. */
int ob_audit_read_tail(int fd, off_t size, ob_audit_record *ret_rec, off_t *ret_torn)
{
        _cleanup_free_ char *buf = NULL;
        ob_audit_record rec = {0};
        size_t window = TAIL_WINDOW_MIN, off = 0, len = 0, torn = 0;
        int r;

        if (size < 0)
                return -EINVAL;
        for (;;) {
                bool whole = (uint64_t)size <= window;
                size_t n = whole ? (size_t)size : window;
                free(buf);
                buf = malloc(n ? n : 1);
                if (!buf)
                        return -ENOMEM;
                r = pread_all(fd, buf, n, size - (off_t)n);
                if (r < 0)
                        return r;
                r = find_tail(buf, n, whole, &off, &len, &torn);
                if (r != -EAGAIN)
                        break;
                if (window == TAIL_WINDOW_MAX)
                        return -EBADMSG; /* a line or a torn tail beyond the bound */
                window = TAIL_WINDOW_MAX;
        }
        /* A crash tears at most the last line (a batch's other lines end in
         * newlines): more bytes than a line are not a torn write. */
        if (torn > OB_AUDIT_MAX_LINE)
                return -EBADMSG;
        if (len == 0 && off == 0 && torn == (size_t)size) {
                memcpy(rec.hash, OB_AUDIT_ZERO_HASH, sizeof(rec.hash));
        } else {
                r = ob_audit_line_decode(buf + off, len, &rec, NULL);
                if (r < 0 || !rec.hash_ok) {
                        ob_audit_record_done(&rec);
                        return -EBADMSG;
                }
        }
        *ret_rec = rec;
        *ret_torn = (off_t)torn;
        return 0;
}

/* LOG.1 for LOG, LOG.N+1 for LOG.N; *ret malloc'd. */
int ob_audit_predecessor_path(const char *path, char **ret)
{
        const char *dot = strrchr(path, '.'), *p;
        unsigned long long n;
        char *out;

        for (p = dot ? dot + 1 : NULL; p && *p >= '0' && *p <= '9'; p++)
                ;
        if (dot && p && !*p && p > dot + 1 && p - dot < 10) {
                n = strtoull(dot + 1, NULL, 10);
                if (asprintf(&out, "%.*s.%llu", (int)(dot - path), path, n + 1) < 0)
                        return -ENOMEM;
        } else if (asprintf(&out, "%s.1", path) < 0) {
                return -ENOMEM;
        }
        *ret = out;
        return 0;
}
