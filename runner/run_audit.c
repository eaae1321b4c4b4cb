/* SPDX-License-Identifier: Apache-2.0 */
/* Every event of a run into the audit log (docs/events.md): the runner's
 * serialised events are queued and appended in batches (one lock, one
 * write, one fdatasync per batch) once per poll round and at the end, so a
 * flood of denials costs one fsync per round, not one per event. The log
 * gives each line its own seq and the hash chain; D-Bus signals are the
 * audit module's. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <omnibase/audit.h>

#include "common/error.h"
#include "common/fs.h"
#include "events/event.h"
#include "runner/runner.h"

struct ob_run_audit {
        ob_audit_log *log;
        char *path;
        cJSON *queue[OB_AUDIT_MAX_BATCH];
        char *lines[OB_AUDIT_MAX_BATCH]; /* the same, as lines, for on_durable */
        size_t n;
        int error; /* the first append error (-errno), 0 if none */
        void (*on_durable)(const char *line, void *userdata);
        void *userdata;
};

void ob_run_audit_subscribe(ob_run_audit *a, void (*on_durable)(const char *line, void *userdata),
                            void *userdata)
{
        a->on_durable = on_durable;
        a->userdata = userdata;
}

/* Opens path, or state_dir/audit.jsonl; *ret is the caller's (close it). */
int ob_run_audit_open(const char *path, const char *state_dir, ob_run_audit **ret, ob_error *err)
{
        ob_run_audit *a = calloc(1, sizeof(*a));
        int r;

        if (!a)
                return -ENOMEM;
        if (path)
                a->path = strdup(path);
        else if (asprintf(&a->path, "%s/audit.jsonl", state_dir) < 0)
                a->path = NULL;
        if (!a->path) {
                free(a);
                return -ENOMEM;
        }
        /* the default log's state directory may not exist yet (mkdir -p) */
        r = path ? 0 : ob_mkdir_p(state_dir, 0700);
        if (r >= 0)
                r = ob_audit_open(a->path, 0, &a->log);
        if (r < 0) {
                (void)ob_error_set(err, 0, 0, r, "audit log %s: %s", a->path, strerror(-r));
                free(a->path);
                free(a);
                return r;
        }
        *ret = a;
        return 0;
}

/* Appends what is queued, then hands each line to on_durable: a subscriber
 * sees an event only once it is in the log (a failed batch reaches no one).
 * The first failure is kept (ob_run_audit_error). */
int ob_run_audit_flush(ob_run_audit *a)
{
        int r = 0;

        if (!a || a->n == 0)
                return a ? a->error : 0;
        r = a->error < 0
                ? a->error
                : ob_audit_append_batch(a->log, (const cJSON *const *)a->queue, a->n, NULL);
        for (size_t i = 0; i < a->n; i++) {
                if (r >= 0 && a->on_durable)
                        a->on_durable(a->lines[i], a->userdata);
                cJSON_Delete(a->queue[i]);
                free(a->lines[i]);
        }
        a->n = 0;
        if (r < 0 && a->error == 0)
                a->error = r;
        return a->error;
}

/* Queues one serialised event (the runner's own line: trusted JSON). */
void ob_run_audit_line(ob_run_audit *a, const char *line)
{
        cJSON *ev;

        if (!a)
                return;
        if (a->n == OB_AUDIT_MAX_BATCH)
                (void)ob_run_audit_flush(a);
        ev = cJSON_Parse(line);
        a->lines[a->n] = strdup(line);
        if (!ev || !a->lines[a->n]) {
                cJSON_Delete(ev);
                free(a->lines[a->n]);
                if (a->error == 0)
                        a->error = -ENOMEM;
                return;
        }
        a->queue[a->n++] = ev;
}

/* The first error of any append so far (-errno), or 0; *ret_path its log. */
int ob_run_audit_error(const ob_run_audit *a, const char **ret_path)
{
        if (!a)
                return 0;
        if (ret_path)
                *ret_path = a->path;
        return a->error;
}

/* Flushes and closes; accepts NULL; returns NULL. */
ob_run_audit *ob_run_audit_close(ob_run_audit *a)
{
        if (!a)
                return NULL;
        (void)ob_run_audit_flush(a);
        ob_audit_close(a->log);
        free(a->path);
        free(a);
        return NULL;
}

/* The run's teardown record of its audit log: run_path/audit holds the log's
 * path and the principal, so that gc can end a run whose runner was killed.
 * *ret_record (the record's path) is the caller's. */
int ob_run_audit_record(const ob_run_audit *a, const char *run_path, const char *principal,
                        char **ret_record)
{
        _cleanup_free_ char *text = NULL, *record = NULL;
        int r;

        if (!a)
                return 0;
        if (asprintf(&record, "%s/audit", run_path) < 0 ||
            asprintf(&text, "%s\n%s\n", a->path, principal ? principal : "") < 0)
                return -ENOMEM;
        r = ob_write_file(record, text);
        if (r < 0)
                return r;
        *ret_record = TAKE_PTR(record);
        return 0;
}

/* gc: appends SandboxExit with status "abandoned" for a run that has its
 * teardown record (its runner died before the end was durable). 0 when there
 * is none or it was appended, -errno when the log could not take it. */
int ob_run_audit_abandoned(const char *run_path, const char *id)
{
        _cleanup_free_ char *record = NULL, *text = NULL, *line = NULL;
        _cleanup_event_ ob_event *ev = NULL;
        ob_audit_log *log = NULL;
        char *nl, *principal;
        int r;

        if (asprintf(&record, "%s/audit", run_path) < 0)
                return -ENOMEM;
        r = ob_read_file(record, 2 * PATH_MAX, &text, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        nl = strchr(text, '\n');
        if (!nl || text[0] != '/')
                return -EBADMSG;
        *nl = '\0';
        principal = nl + 1;
        principal[strcspn(principal, "\n")] = '\0';
        r = ob_event_new(OB_EVENT_SANDBOX_EXIT, id, principal[0] ? principal : NULL, &ev);
        if (r >= 0)
                r = ob_event_add_string(ev, "status", "abandoned");
        if (r >= 0)
                r = ob_event_add_int(ev, "exit_code", -1);
        if (r >= 0)
                r = ob_event_add_string(ev, "reason", "the runner died; gc removed the run");
        if (r >= 0)
                r = ob_event_to_json_line(ev, &line);
        if (r >= 0)
                r = ob_audit_open(text, 0, &log);
        if (r >= 0)
                r = ob_audit_append_json(log, line, strlen(line), NULL);
        ob_audit_close(log);
        if (r >= 0)
                (void)unlink(record);
        return r;
}
