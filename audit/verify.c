/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
/* Checking a whole log: every line decodes, seq goes +1, each prev_hash is
 * the previous hash, each hash matches its line, and the last line ends. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit-internal.h"
#include "common/macros.h"

#define READ_CAP (2 * ((size_t)OB_AUDIT_MAX_LINE + 1))

typedef struct verifier {
        const char *path;
        unsigned flags;
        ob_audit_verify_result *res;
        bool started, stopped;
        uint64_t expect_seq;
        char prev_hash[OB_AUDIT_HASH_HEX + 1];
        uint64_t line_no;
} verifier;

static _printf_(4, 5) int bad(verifier *v, uint64_t seq, unsigned column, const char *fmt, ...)
{
        va_list ap;

        v->res->ok = false;
        v->res->bad_seq = seq;
        v->res->bad_line = v->line_no;
        v->res->bad_column = column;
        va_start(ap, fmt);
        vsnprintf(v->res->reason, sizeof(v->res->reason), fmt, ap);
        va_end(ap);
        v->stopped = true;
        return 0;
}

/* The chain's anchor when the first line is not a genesis line: the rotated
 * predecessor's last line. */
static int anchor_predecessor(verifier *v, const ob_audit_record *first)
{
        _cleanup_free_ char *pred = NULL;
        _cleanup_close_ int fd = -1;
        ob_audit_record rec = {0};
        struct stat st;
        off_t torn = 0;
        int r;

        r = ob_audit_predecessor_path(v->path, &pred);
        if (r < 0)
                return r;
        fd = open(pred, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0)
                return bad(v, first->seq, 0,
                           "the chain starts at seq %" PRIu64 ", not 1, and its predecessor %s "
                           "cannot be read (%s); use --continue to trust the first line",
                           first->seq, pred, strerror(errno));
        r = ob_audit_read_tail(fd, st.st_size, &rec, &torn);
        if (r < 0 || torn > 0 || rec.seq == 0) {
                ob_audit_record_done(&rec);
                return bad(v, first->seq, 0, "the last line of the predecessor %s is not intact",
                           pred);
        }
        v->expect_seq = rec.seq + 1;
        memcpy(v->prev_hash, rec.hash, sizeof(v->prev_hash));
        ob_audit_record_done(&rec);
        return 0;
}

static int start_chain(verifier *v, const ob_audit_record *first)
{
        v->started = true;
        if (first->seq == 1 && streq(first->prev_hash, OB_AUDIT_ZERO_HASH)) {
                v->expect_seq = 1;
                memcpy(v->prev_hash, OB_AUDIT_ZERO_HASH, sizeof(v->prev_hash));
                return 0;
        }
        if (v->flags & OB_AUDIT_VERIFY_CONTINUE) {
                v->expect_seq = first->seq;
                memcpy(v->prev_hash, first->prev_hash, sizeof(v->prev_hash));
                return 0;
        }
        return anchor_predecessor(v, first);
}

static int check_record(verifier *v, const ob_audit_record *rec)
{
        uint64_t expect = v->expect_seq;

        if (rec->seq != expect)
                return bad(v, expect, 0,
                           "found seq %" PRIu64 " where %" PRIu64
                           " was due (a line is missing, duplicated or out of order)",
                           rec->seq, expect);
        if (!rec->hash_ok)
                return bad(v, expect, 0, "hash does not match the line (the line was edited)");
        if (!streq(rec->prev_hash, v->prev_hash))
                return bad(v, expect, 0,
                           "prev_hash is not the hash of the line before (a line was inserted, "
                           "removed or edited)");
        v->expect_seq++;
        memcpy(v->prev_hash, rec->hash, sizeof(v->prev_hash));
        v->res->n_events++;
        v->res->last_seq = rec->seq;
        memcpy(v->res->last_hash, rec->hash, sizeof(v->res->last_hash));
        return 0;
}

static int verify_line(verifier *v, const char *line, size_t len)
{
        ob_audit_record rec = {0};
        ob_error err = {0};
        int r;

        v->line_no++;
        r = ob_audit_line_decode(line, len, &rec, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return bad(v, v->started ? v->expect_seq : 1, err.column, "%s", err.message);
        r = v->started ? 0 : start_chain(v, &rec);
        if (r >= 0 && !v->stopped)
                r = check_record(v, &rec);
        ob_audit_record_done(&rec);
        return r;
}

/* Feeds every complete line of buf[0..*have) to verify_line and keeps the
 * incomplete rest at the start of buf. */
static int verify_lines(verifier *v, char *buf, size_t *have)
{
        size_t start = 0;
        char *nl;
        int r;

        while (!v->stopped && (nl = memchr(buf + start, '\n', *have - start))) {
                r = verify_line(v, buf + start, (size_t)(nl - buf) - start);
                if (r < 0)
                        return r;
                start = (size_t)(nl - buf) + 1;
        }
        memmove(buf, buf + start, *have - start);
        *have -= start;
        if (!v->stopped && *have > OB_AUDIT_MAX_LINE) {
                v->line_no++;
                return bad(v, v->started ? v->expect_seq : 1, 0, "line longer than %d bytes",
                           OB_AUDIT_MAX_LINE);
        }
        return 0;
}

/* Reads fd to its end, verifying each complete line; the incomplete rest
 * stays in buf[0..*have). */
static int read_to_end(verifier *v, int fd, char *buf, size_t *have)
{
        ssize_t k;
        int r;

        while (!v->stopped) {
                k = read(fd, buf + *have, READ_CAP - *have);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        break;
                *have += (size_t)k;
                r = verify_lines(v, buf, have);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int verify_fd(verifier *v, int fd)
{
        _cleanup_free_ char *buf = malloc(READ_CAP);
        size_t have = 0;
        int r;

        if (!buf)
                return -ENOMEM;
        r = read_to_end(v, fd, buf, &have);
        if (r >= 0 && !v->stopped && have > 0) {
                /* An append may be under way: wait for the writers' lock
                 * (shared: appends wait meanwhile), then read the rest. */
                while (flock(fd, LOCK_SH) < 0 && errno == EINTR)
                        ;
                r = read_to_end(v, fd, buf, &have);
                flock(fd, LOCK_UN);
        }
        if (r < 0)
                return r;
        if (!v->stopped && have > 0) {
                v->line_no++;
                return bad(v, v->started ? v->expect_seq : 1, 0,
                           "torn last line: %zu bytes without a newline", have);
        }
        return 0;
}

/* Verifies the whole file at path; the verdict goes to *ret. */
int ob_audit_verify(const char *path, unsigned flags, ob_audit_verify_result *ret)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        ob_audit_verify_result res = {.ok = true, .last_hash = OB_AUDIT_ZERO_HASH};
        verifier v = {.path = path, .flags = flags, .res = &res};
        struct stat st;
        int r;

        if (fd < 0 || fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        r = verify_fd(&v, fd);
        if (r < 0)
                return r;
        *ret = res;
        return 0;
}
