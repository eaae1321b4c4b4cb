/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
/* The audit log writer: one lock, chained lines, one write, fdatasync. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit-internal.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/macros.h"

struct ob_audit_log {
        char *path;
        int fd;     /* O_APPEND, flock()ed while appending */
        int dir_fd; /* for fsync() after creating or renaming */
        unsigned flags;
        /* What this handle last wrote; valid while the file is unchanged. */
        bool cache_valid;
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec ctime; /* an edit in place changes it, whatever the size */
        uint64_t last_seq;
        char last_hash[OB_AUDIT_HASH_HEX + 1];
        sd_bus *bus;
        bool bus_tried;
};

/* A growing buffer of lines and what D-Bus needs about each. */
typedef struct batch {
        char *buf;
        size_t len, cap;
        size_t n;
        uint64_t first_seq;
        size_t *line_off;
} batch;

/* $OMNIBASE_STATE_DIR/audit.jsonl or the compiled-in default; *ret malloc'd. */
int ob_audit_default_path(char **ret)
{
        const char *dir = getenv("OMNIBASE_STATE_DIR");
        char *p;

        if (!dir || !*dir)
                dir = OB_DEFAULT_STATE_DIR;
        if (asprintf(&p, "%s/audit.jsonl", dir) < 0)
                return -ENOMEM;
        *ret = p;
        return 0;
}

static int open_file(ob_audit_log *log)
{
        log->fd = open(log->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
        log->cache_valid = false;
        return log->fd < 0 ? negative_errno() : 0;
}

static int open_dir(ob_audit_log *log)
{
        _cleanup_free_ char *copy = strdup(log->path);

        if (!copy)
                return -ENOMEM;
        if (mkdir(dirname(copy), 0750) < 0 && errno != EEXIST)
                return negative_errno();
        strcpy(copy, log->path);
        log->dir_fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return log->dir_fd < 0 ? negative_errno() : 0;
}

/* Opens (creating) the log; the handle is the caller's. */
int ob_audit_open(const char *path, unsigned flags, ob_audit_log **ret)
{
        ob_audit_log *log = calloc(1, sizeof(*log));
        int r;

        if (!log)
                return -ENOMEM;
        log->fd = log->dir_fd = -1;
        log->flags = flags;
        r = path ? ((log->path = strdup(path)) ? 0 : -ENOMEM) : ob_audit_default_path(&log->path);
        if (r >= 0)
                r = open_dir(log);
        if (r >= 0)
                r = open_file(log);
        if (r < 0) {
                ob_audit_close(log);
                return r;
        }
        *ret = log;
        return 0;
}

/* Closes the handle and its bus connection; accepts NULL. */
ob_audit_log *ob_audit_close(ob_audit_log *log)
{
        if (!log)
                return NULL;
        closep(&log->fd);
        closep(&log->dir_fd);
        ob_audit_bus_close(log->bus);
        free(log->path);
        free(log);
        return NULL;
}

/* Locks the file that is at the path now (a rotation may have replaced the
 * one we hold) and returns its stat in *ret_st. */
static int lock_current(ob_audit_log *log, struct stat *ret_st)
{
        struct stat st, pst;

        for (int tries = 0; tries < 64; tries++) {
                if (log->fd < 0 && open_file(log) < 0)
                        return negative_errno();
                while (flock(log->fd, LOCK_EX) < 0)
                        if (errno != EINTR)
                                return negative_errno();
                if (fstat(log->fd, &st) < 0)
                        return negative_errno();
                if (stat(log->path, &pst) == 0) {
                        if (pst.st_dev == st.st_dev && pst.st_ino == st.st_ino) {
                                *ret_st = st;
                                return 0;
                        }
                } else if (errno != ENOENT) {
                        return negative_errno();
                }
                flock(log->fd, LOCK_UN);
                closep(&log->fd);
                log->fd = -1;
                log->cache_valid = false;
        }
        return -EAGAIN;
}

static void unlock(ob_audit_log *log)
{
        if (log->fd >= 0)
                flock(log->fd, LOCK_UN);
}

/* Loads the last seq and hash (from the cache when the file is as we left
 * it) and how many torn bytes follow the last line. */
static int load_tail(ob_audit_log *log, const struct stat *st, off_t *ret_torn)
{
        ob_audit_record rec = {0};
        int r;

        if (log->cache_valid && log->dev == st->st_dev && log->ino == st->st_ino &&
            log->size == st->st_size && log->ctime.tv_sec == st->st_ctim.tv_sec &&
            log->ctime.tv_nsec == st->st_ctim.tv_nsec) {
                *ret_torn = 0;
                return 0;
        }
        r = ob_audit_read_tail(log->fd, st->st_size, &rec, ret_torn);
        if (r < 0)
                return r;
        log->last_seq = rec.seq;
        memcpy(log->last_hash, rec.hash, sizeof(log->last_hash));
        ob_audit_record_done(&rec);
        return 0;
}

static int batch_add(batch *b, const cJSON *event, const char *prev_hash, char ret_hash[65])
{
        _cleanup_free_ char *line = NULL;
        size_t len;
        int r;

        r = ob_audit_line_build(event, b->first_seq + b->n, prev_hash, &line, &len, ret_hash);
        if (r < 0)
                return r;
        if (b->len + len > b->cap) {
                size_t cap = (b->len + len) * 2;
                char *nb = realloc(b->buf, cap);
                if (!nb)
                        return -ENOMEM;
                b->buf = nb, b->cap = cap;
        }
        memcpy(b->buf + b->len, line, len);
        b->line_off[b->n++] = b->len;
        b->len += len;
        return 0;
}

/* The AuditLogRepaired event for torn bytes at the end of fd. */
static int repair_event(int fd, off_t size, off_t torn, cJSON **ret)
{
        _cleanup_free_ char *bytes = malloc((size_t)torn);
        char hash[OB_AUDIT_HASH_HEX + 1];
        cJSON *ev;
        ssize_t k;
        int r;

        if (!bytes)
                return -ENOMEM;
        k = pread(fd, bytes, (size_t)torn, size - torn);
        if (k != (ssize_t)torn)
                return k < 0 ? negative_errno() : -EIO;
        r = ob_audit_sha256_hex(bytes, (size_t)torn, NULL, 0, hash);
        if (r < 0)
                return r;
        ev = cJSON_CreateObject();
        if (!ev || !cJSON_AddStringToObject(ev, "type", "AuditLogRepaired") ||
            !cJSON_AddNumberToObject(ev, "dropped_bytes", (double)torn) ||
            !cJSON_AddStringToObject(ev, "dropped_sha256", hash)) {
                cJSON_Delete(ev);
                return -ENOMEM;
        }
        *ret = ev;
        return 0;
}

/* Builds the lines (a repair event first when torn > 0) into b. */
static int build_batch(ob_audit_log *log, const struct stat *st, off_t torn,
                       const cJSON *const *events, size_t n, batch *b)
{
        char hash[OB_AUDIT_HASH_HEX + 1];
        int r;

        memcpy(hash, log->last_hash, sizeof(hash));
        b->first_seq = log->last_seq + 1;
        if (log->last_seq + n + 1 > OB_AUDIT_MAX_SEQ)
                return -EOVERFLOW;
        if (torn > 0) {
                cJSON *ev = NULL;
                r = repair_event(log->fd, st->st_size, torn, &ev);
                if (r >= 0)
                        r = batch_add(b, ev, hash, hash);
                cJSON_Delete(ev);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < n; i++) {
                r = batch_add(b, events[i], hash, hash);
                if (r < 0)
                        return r;
        }
        memcpy(log->last_hash, hash, sizeof(hash));
        return 0;
}

/* Under the lock: repairs a torn tail, writes b and makes it durable. */
static int commit_batch(ob_audit_log *log, const struct stat *st, off_t torn, const batch *b)
{
        off_t base = st->st_size - torn;
        struct stat now;
        int r;

        if (torn > 0 && ftruncate(log->fd, base) < 0)
                return negative_errno();
        r = ob_write_all(log->fd, b->buf, b->len);
        if (r >= 0 && fdatasync(log->fd) < 0)
                r = negative_errno();
        if (r >= 0 && base == 0 && fsync(log->dir_fd) < 0)
                r = negative_errno();
        if (r < 0) {
                /* Leave no partial line behind: the caller gets no seq. */
                if (ftruncate(log->fd, base) == 0)
                        (void)fdatasync(log->fd);
                log->cache_valid = false;
                return r;
        }
        if (fstat(log->fd, &now) < 0) {
                log->cache_valid = false; /* durable all the same */
                return 0;
        }
        log->cache_valid = true;
        log->dev = now.st_dev, log->ino = now.st_ino;
        log->size = now.st_size;
        log->ctime = now.st_ctim;
        log->last_seq = b->first_seq + b->n - 1;
        return 0;
}

static void emit_batch(ob_audit_log *log, const batch *b)
{
        if (log->flags & OB_AUDIT_NO_DBUS)
                return;
        if (!log->bus_tried) {
                log->bus = ob_audit_bus_open();
                log->bus_tried = true;
        }
        if (!log->bus)
                return;
        for (size_t i = 0; i < b->n; i++) {
                const char *line = b->buf + b->line_off[i];
                size_t end = i + 1 < b->n ? b->line_off[i + 1] : b->len;
                ob_audit_record rec = {0};
                /* Our own line: decoding it gives type and sandbox_id. */
                if (ob_audit_line_decode(line, end - b->line_off[i] - 1, &rec, NULL) < 0)
                        continue;
                ob_audit_bus_emit(log->bus, rec.seq, rec.type, rec.sandbox_id, line,
                                  end - b->line_off[i] - 1);
                ob_audit_record_done(&rec);
        }
}

static int append_locked(ob_audit_log *log, const cJSON *const *events, size_t n, batch *b)
{
        struct stat st;
        off_t torn = 0;
        int r;

        r = lock_current(log, &st);
        if (r < 0)
                return r;
        r = load_tail(log, &st, &torn);
        if (r >= 0 && (n > 0 || torn > 0))
                r = build_batch(log, &st, torn, events, n, b);
        if (r >= 0 && b->n > 0)
                r = commit_batch(log, &st, torn, b);
        if (r < 0)
                log->cache_valid = false;
        return r;
}

/* Appends n events under one lock, one write, one fdatasync. */
int ob_audit_append_batch(ob_audit_log *log, const cJSON *const *events, size_t n,
                          uint64_t *ret_first_seq)
{
        size_t offs[OB_AUDIT_MAX_BATCH + 1];
        batch b = {.line_off = offs};
        int r;

        if (!log || n == 0 || n > OB_AUDIT_MAX_BATCH)
                return -EINVAL;
        r = append_locked(log, events, n, &b);
        unlock(log);
        if (r >= 0) {
                emit_batch(log, &b);
                if (ret_first_seq)
                        *ret_first_seq = b.first_seq + b.n - n;
        }
        free(b.buf);
        return r;
}

/* Appends one event durably; *ret_seq is its seq. */
int ob_audit_append(ob_audit_log *log, const cJSON *event, uint64_t *ret_seq)
{
        return ob_audit_append_batch(log, &event, 1, ret_seq);
}

/* Appends an event given as strict JSON text. */
int ob_audit_append_json(ob_audit_log *log, const char *json, size_t len, uint64_t *ret_seq)
{
        _cleanup_(ob_json_doc_done) ob_json_doc doc = {0};
        const cJSON *root;

        if (ob_json_parse(json, len, OB_AUDIT_MAX_LINE, &doc, NULL) < 0)
                return len > OB_AUDIT_MAX_LINE ? -E2BIG : -EINVAL;
        root = doc.root;
        return ob_audit_append_batch(log, &root, 1, ret_seq);
}

/* Renames LOG.N to LOG.N+1 for every existing N, highest first. */
static int shift_rotated(const char *path)
{
        unsigned long max = 0;
        struct stat st;
        char a[4096], b[4096];

        for (unsigned long k = 1; k < 1000000; k++) {
                if ((size_t)snprintf(a, sizeof(a), "%s.%lu", path, k) >= sizeof(a))
                        return -ENAMETOOLONG;
                if (lstat(a, &st) < 0)
                        break;
                max = k;
        }
        for (unsigned long k = max; k >= 1; k--) {
                snprintf(a, sizeof(a), "%s.%lu", path, k);
                snprintf(b, sizeof(b), "%s.%lu", path, k + 1);
                if (rename(a, b) < 0)
                        return negative_errno();
        }
        return 0;
}

/* Writes the new log (its AuditLogRotated line) beside LOG, then renames it
 * over LOG: the path never goes missing. LOG.1 is already a link to LOG. */
static int start_new_file(ob_audit_log *log, const char *rotated, batch *b)
{
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -1;
        const char *base = strrchr(rotated, '/');
        cJSON *ev = cJSON_CreateObject();
        char hash[OB_AUDIT_HASH_HEX + 1];
        int r = -ENOMEM;

        b->first_seq = log->last_seq + 1;
        if (ev && cJSON_AddStringToObject(ev, "type", "AuditLogRotated") &&
            cJSON_AddStringToObject(ev, "previous_file", base ? base + 1 : rotated) &&
            cJSON_AddNumberToObject(ev, "previous_last_seq", (double)log->last_seq))
                r = batch_add(b, ev, log->last_hash, hash);
        cJSON_Delete(ev);
        if (r < 0)
                return r;
        if (asprintf(&tmp, "%s.rotating", log->path) < 0)
                return -ENOMEM;
        (void)unlink(tmp);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0)
                return negative_errno();
        r = ob_write_all(fd, b->buf, b->len);
        if (r >= 0 && fdatasync(fd) < 0)
                r = negative_errno();
        if (r >= 0 && rename(tmp, log->path) < 0)
                r = negative_errno();
        if (r < 0)
                (void)unlink(tmp);
        return r;
}

static int rotate_locked(ob_audit_log *log, batch *b, uint64_t *ret_last_seq)
{
        _cleanup_free_ char *rotated = NULL;
        int r;

        r = append_locked(log, NULL, 0, b); /* repairs a torn tail first */
        if (r < 0)
                return r;
        emit_batch(log, b);
        b->n = b->len = 0;
        *ret_last_seq = log->last_seq;
        if (log->last_seq == 0)
                return 0;
        if (asprintf(&rotated, "%s.1", log->path) < 0)
                return -ENOMEM;
        r = shift_rotated(log->path);
        if (r >= 0 && link(log->path, rotated) < 0)
                r = negative_errno();
        if (r >= 0)
                r = start_new_file(log, rotated, b);
        if (r >= 0 && fsync(log->dir_fd) < 0)
                r = negative_errno();
        return r;
}

/* Rotates LOG to LOG.1 and starts LOG with an AuditLogRotated line. */
int ob_audit_rotate(ob_audit_log *log, uint64_t *ret_last_seq)
{
        size_t offs[2];
        batch b = {.line_off = offs};
        uint64_t last = 0;
        int r;

        if (!log)
                return -EINVAL;
        r = rotate_locked(log, &b, &last);
        unlock(log);
        closep(&log->fd);
        log->fd = -1;
        log->cache_valid = false;
        if (r >= 0) {
                emit_batch(log, &b);
                if (ret_last_seq)
                        *ret_last_seq = last;
        }
        free(b.buf);
        return r;
}
