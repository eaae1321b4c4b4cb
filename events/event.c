/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "common/macros.h"
#include "events/event.h"

static const char *const type_names[OB_EVENT_TYPE_MAX] = {
    [OB_EVENT_SANDBOX_START] = "SandboxStart",
    [OB_EVENT_SANDBOX_EXIT] = "SandboxExit",
    [OB_EVENT_RESOURCE_LIMIT_EXCEEDED] = "ResourceLimitExceeded",
    [OB_EVENT_CAPABILITY_DENIED] = "CapabilityDenied",
    [OB_EVENT_CAPABILITY_DENIED_SUMMARY] = "CapabilityDeniedSummary",
    [OB_EVENT_ENVIRONMENT_CREATED] = "EnvironmentCreated",
    [OB_EVENT_ENVIRONMENT_STARTED] = "EnvironmentStarted",
    [OB_EVENT_ENVIRONMENT_STOPPED] = "EnvironmentStopped",
    [OB_EVENT_ENVIRONMENT_EXTENDED] = "EnvironmentExtended",
    [OB_EVENT_ENVIRONMENT_EXPIRED] = "EnvironmentExpired",
    [OB_EVENT_ENVIRONMENT_DELETED] = "EnvironmentDeleted",
    [OB_EVENT_ENVIRONMENT_FAILED] = "EnvironmentFailed",
    [OB_EVENT_ENVIRONMENT_RESET] = "EnvironmentReset",
    [OB_EVENT_FLAGS_CHANGED] = "FlagsChanged",
    [OB_EVENT_EXEC_STARTED] = "ExecStarted",
    [OB_EVENT_EXEC_EXITED] = "ExecExited",
    [OB_EVENT_SECRET_INJECTED] = "SecretInjected",
    [OB_EVENT_SECRET_REVOKED] = "SecretRevoked",
    [OB_EVENT_SECRET_ROTATED] = "SecretRotated",
    [OB_EVENT_SNAPSHOT_TAKEN] = "SnapshotTaken",
    [OB_EVENT_SNAPSHOT_RESTORED] = "SnapshotRestored",
    [OB_EVENT_QUOTA_REFUSED] = "QuotaRefused",
};

static const char *const common_keys[] = {"seq",       "time",      "type", "sandbox_id",
                                          "principal", "prev_hash", "hash"};

const char *ob_event_type_to_string(ob_event_type type)
{
        if ((unsigned)type >= OB_EVENT_TYPE_MAX)
                return NULL;
        return type_names[type];
}

int ob_event_new(ob_event_type type, const char *sandbox_id, const char *principal, ob_event **ret)
{
        ob_event *ev;

        if ((unsigned)type >= OB_EVENT_TYPE_MAX)
                return -EINVAL;
        ev = calloc(1, sizeof(*ev));
        if (!ev)
                return -ENOMEM;
        ev->type = type;
        ev->fields = cJSON_CreateObject();
        ev->sandbox_id = sandbox_id ? strdup(sandbox_id) : NULL;
        ev->principal = principal ? strdup(principal) : NULL;
        if (!ev->fields || (sandbox_id && !ev->sandbox_id) || (principal && !ev->principal)) {
                ob_event_free(ev);
                return -ENOMEM;
        }
        *ret = ev;
        return 0;
}

ob_event *ob_event_free(ob_event *ev)
{
        if (!ev)
                return NULL;
        cJSON_Delete(ev->fields);
        free(ev->sandbox_id);
        free(ev->principal);
        free(ev);
        return NULL;
}

static int add_item(ob_event *ev, const char *key, cJSON *item)
{
        if (!item)
                return -ENOMEM;
        for (size_t i = 0; i < ARRAY_SIZE(common_keys); i++)
                if (streq(key, common_keys[i])) {
                        cJSON_Delete(item);
                        return -EINVAL;
                }
        if (cJSON_GetObjectItemCaseSensitive(ev->fields, key)) {
                cJSON_Delete(item);
                return -EINVAL;
        }
        if (!cJSON_AddItemToObject(ev->fields, key, item)) {
                cJSON_Delete(item);
                return -ENOMEM;
        }
        return 0;
}

int ob_event_add_string(ob_event *ev, const char *key, const char *value)
{
        return add_item(ev, key, value ? cJSON_CreateString(value) : cJSON_CreateNull());
}

int ob_event_add_int(ob_event *ev, const char *key, int64_t value)
{
        /* cJSON keeps doubles: exact up to 2^53, far above any counter here. */
        return add_item(ev, key, cJSON_CreateNumber((double)value));
}

int ob_event_add_bool(ob_event *ev, const char *key, bool value)
{
        return add_item(ev, key, cJSON_CreateBool(value));
}

int ob_event_format_time(int64_t time_us, char *buf, size_t size)
{
        time_t secs = (time_t)(time_us / 1000000);
        long usec = (long)(time_us % 1000000);
        struct tm tm;
        char date[24];

        if (time_us < 0 || !gmtime_r(&secs, &tm))
                return -EINVAL;
        if (strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
                return -EINVAL;
        if ((size_t)snprintf(buf, size, "%s.%06ldZ", date, usec) >= size)
                return -ENOBUFS;
        return 0;
}

static int64_t now_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int ob_event_to_json_line(const ob_event *ev, char **ret)
{
        cJSON *obj = cJSON_CreateObject();
        char when[40], *line = NULL;
        bool ok;
        int r;

        if (!obj)
                return -ENOMEM;
        r = ob_event_format_time(ev->time_us, when, sizeof(when));
        if (r < 0) {
                cJSON_Delete(obj);
                return r;
        }
        ok = cJSON_AddNumberToObject(obj, "seq", (double)ev->seq) &&
             cJSON_AddStringToObject(obj, "time", when) &&
             cJSON_AddStringToObject(obj, "type", ob_event_type_to_string(ev->type)) &&
             (ev->sandbox_id ? cJSON_AddStringToObject(obj, "sandbox_id", ev->sandbox_id)
                             : cJSON_AddNullToObject(obj, "sandbox_id")) &&
             (ev->principal ? cJSON_AddStringToObject(obj, "principal", ev->principal)
                            : cJSON_AddNullToObject(obj, "principal"));
        for (const cJSON *f = ev->fields ? ev->fields->child : NULL; ok && f; f = f->next) {
                cJSON *dup = cJSON_Duplicate(f, true);
                ok = dup && cJSON_AddItemToObject(obj, f->string, dup);
                if (!ok)
                        cJSON_Delete(dup);
        }
        if (ok)
                line = cJSON_PrintUnformatted(obj);
        cJSON_Delete(obj);
        if (!line)
                return -ENOMEM;
        if (strlen(line) > OB_EVENT_MAX_LINE) {
                free(line);
                return -E2BIG;
        }
        *ret = line;
        return 0;
}

int ob_event_emit(ob_event_sink *sink, ob_event *ev)
{
        _cleanup_free_ char *line = NULL;
        int r;

        if (sink->next_seq == 0)
                sink->next_seq = 1;
        if (sink->owner && !cJSON_GetObjectItemCaseSensitive(ev->fields, "owner")) {
                r = ob_event_add_string(ev, "owner", sink->owner);
                if (r < 0)
                        return r;
        }
        ev->seq = sink->next_seq;
        if (ev->time_us == 0)
                ev->time_us = now_us();
        r = ob_event_to_json_line(ev, &line);
        if (r < 0)
                return r;
        sink->next_seq++;
        if (sink->fn)
                sink->fn(line, sink->userdata);
        return 0;
}
