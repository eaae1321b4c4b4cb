/* SPDX-License-Identifier: Apache-2.0 */
/* Server-Sent Event streams of the STREAM operations (env_logs, events):
 * `id: SEQ`, `event: TYPE`, `data: JSON`. A stream is a response whose
 * content reader asks ob_api_events_query for what follows the last seq it
 * sent; when there is nothing it suspends its connection until the loop's
 * inotify watch says the audit log changed, or its keepalive is due. The
 * same query decides what the caller may see (an owner: its own). */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

#define OB_SSE_BATCH 100

typedef struct ob_srv_sse {
        ob_srv_req *req;
        char *types; /* comma list or NULL */
        char *env_id;
        unsigned long long last_seq;
        char *buf;
        size_t len, off;
        int64_t keepalive_at;
        bool waiting; /* suspended for want of events */
} ob_srv_sse;

static void sse_free(ob_srv_sse *s)
{
        if (!s)
                return;
        if (s->req)
                s->req->sse = NULL;
        free(s->types);
        free(s->env_id);
        free(s->buf);
        free(s);
}

/* The next batch of events as SSE text in s->buf; 0 when there was none. */
static int refill(ob_srv_sse *s)
{
        cJSON *events = NULL, *e;
        unsigned long long last = s->last_seq;
        ob_error err = {0};
        char *text = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        r = ob_api_events_query(&s->req->ctx, s->types, s->env_id, s->last_seq, OB_SSE_BATCH,
                                &events, &last, &err);
        if (r < 0) {
                fprintf(stderr, "omnibased: stream: %s\n", err.message);
                return r;
        }
        f = open_memstream(&text, &size);
        if (!f) {
                cJSON_Delete(events);
                return -ENOMEM;
        }
        cJSON_ArrayForEach (e, events) {
                const cJSON *seq = cJSON_GetObjectItemCaseSensitive(e, "seq");
                const cJSON *type = cJSON_GetObjectItemCaseSensitive(e, "type");
                _cleanup_free_ char *data = cJSON_PrintUnformatted(e);
                if (!cJSON_IsNumber(seq) || !data)
                        continue;
                fprintf(f, "id: %.0f\nevent: %s\ndata: %s\n\n", seq->valuedouble,
                        cJSON_IsString(type) ? type->valuestring : "message", data);
        }
        cJSON_Delete(events);
        if (fclose(f) != 0) {
                free(text);
                return -ENOMEM;
        }
        s->last_seq = last;
        free(s->buf);
        s->buf = text;
        s->len = size;
        s->off = 0;
        return size > 0;
}

static ssize_t copy_out(ob_srv_sse *s, char *buf, size_t max)
{
        size_t n = s->len - s->off < max ? s->len - s->off : max;

        memcpy(buf, s->buf + s->off, n);
        s->off += n;
        s->keepalive_at = ob_mono_ms() + OB_SRV_KEEPALIVE_MS;
        return (ssize_t)n;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
        ob_srv_sse *s = cls;
        static const char keepalive[] = ": keepalive\n\n";
        int r;

        if (!s->req || s->req->gone)
                return MHD_CONTENT_READER_END_OF_STREAM; /* the client closed: we end too */
        if (s->off < s->len)
                return copy_out(s, buf, max);
        r = refill(s);
        if (r < 0)
                return MHD_CONTENT_READER_END_WITH_ERROR;
        if (r > 0)
                return copy_out(s, buf, max);
        if (ob_mono_ms() >= s->keepalive_at && max >= sizeof(keepalive) - 1) {
                memcpy(buf, keepalive, sizeof(keepalive) - 1);
                s->keepalive_at = ob_mono_ms() + OB_SRV_KEEPALIVE_MS;
                return (ssize_t)(sizeof(keepalive) - 1);
        }
        s->waiting = true;
        ob_srv_req_suspend(s->req);
        return 0;
}

static void reader_free(void *cls)
{
        ob_srv_sse *s = cls;

        if (s->req) {
                s->req->sse = NULL;
                s->req = NULL;
        }
        sse_free(s);
}

void ob_srv_sse_detach(ob_srv_sse *s)
{
        s->req = NULL;
}

/* Where the stream starts: after Last-Event-ID, else after the query's
 * after_seq, else from the log's beginning. -EINVAL when not a number. */
static int start_seq(struct MHD_Connection *c, unsigned long long *ret)
{
        const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
        char *end;

        if (!v)
                v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after_seq");
        if (!v) {
                *ret = 0;
                return 0;
        }
        errno = 0;
        *ret = strtoull(v, &end, 10);
        return !*v || *end || errno || v[0] == '-' ? -EINVAL : 0;
}

enum MHD_Result ob_srv_sse_start(ob_srv_req *r)
{
        const char *types = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "type");
        const char *env = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "env");
        const cJSON *gate_env = cJSON_GetObjectItemCaseSensitive(r->gate, "env_id");
        struct MHD_Response *resp;
        enum MHD_Result ret;
        ob_srv_sse *s;

        s = calloc(1, sizeof(*s));
        if (!s)
                return MHD_NO;
        if (start_seq(r->conn, &s->last_seq) < 0) {
                free(s);
                r->state = OB_REQ_DONE;
                return ob_srv_respond_error(r->conn, 400, "invalid",
                                            "Last-Event-ID (or after_seq) is not an event seq");
        }
        if (cJSON_IsString(gate_env))
                env = gate_env->valuestring; /* env_logs: the environment the gate resolved */
        s->types = types && *types ? strdup(types) : NULL;
        s->env_id = env && *env ? strdup(env) : NULL;
        s->keepalive_at = ob_mono_ms() + OB_SRV_KEEPALIVE_MS;
        resp =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, reader, s, reader_free);
        if (!resp) {
                sse_free(s);
                return MHD_NO;
        }
        s->req = r;
        r->sse = s;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, 0);
        ret = MHD_queue_response(r->conn, 200, resp);
        MHD_destroy_response(resp);
        return ret;
}

void ob_srv_sse_wake_all(ob_srv *srv)
{
        for (ob_srv_req *r = srv->reqs; r; r = r->next)
                if (r->sse && r->sse->waiting) {
                        r->sse->waiting = false;
                        ob_srv_req_resume(r);
                }
}

int64_t ob_srv_sse_tick(ob_srv *srv, int64_t now)
{
        int64_t next = OB_SRV_KEEPALIVE_MS;

        for (ob_srv_req *r = srv->reqs; r; r = r->next) {
                if (!r->sse || !r->sse->waiting)
                        continue;
                if (now >= r->sse->keepalive_at) {
                        r->sse->waiting = false;
                        ob_srv_req_resume(r);
                } else if (r->sse->keepalive_at - now < next) {
                        next = r->sse->keepalive_at - now;
                }
        }
        return next;
}
