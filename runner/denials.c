/* SPDX-License-Identifier: Apache-2.0 */
/* The byte budget of a run's CapabilityDenied events (docs/events.md):
 * the first ones go out in full; past OB_DENIAL_BUDGET_BYTES they are
 * counted per capability and target prefix, and the counts go out as
 * CapabilityDeniedSummary events before SandboxExit. */
#define _GNU_SOURCE
#include <string.h>

#include "runner/runner.h"

/* About what an event adds to its line besides its strings: the common
 * fields (seq, time, sandbox_id, principal, the two hashes), keys, quotes. */
#define EVENT_OVERHEAD 320

/* The target up to and including its third '/' (a path's first two
 * directories), or its first OB_DENIAL_PREFIX_MAX - 1 bytes. */
static void target_prefix(const char *target, char *buf, size_t size)
{
        size_t n = 0, slashes = 0;

        while (target[n] && n + 1 < size) {
                if (target[n++] == '/' && ++slashes == 3)
                        break;
        }
        memcpy(buf, target, n);
        buf[n] = '\0';
}

bool ob_denial_budget_take(ob_denial_budget *b, const ob_channel_msg *m)
{
        char prefix[OB_DENIAL_PREFIX_MAX];
        size_t cost = EVENT_OVERHEAD + strlen(m->capability) + strlen(m->target) +
                      strlen(m->syscall) + strlen(m->policy_id) + strlen(m->layer);

        if (b->bytes + cost <= OB_DENIAL_BUDGET_BYTES) {
                b->bytes += cost;
                return true;
        }
        b->suppressed++;
        target_prefix(m->target, prefix, sizeof(prefix));
        for (size_t i = 0; i < b->n; i++)
                if (streq(b->groups[i].capability, m->capability) &&
                    streq(b->groups[i].prefix, prefix)) {
                        b->groups[i].count++;
                        return false;
                }
        if (b->n == OB_DENIAL_GROUPS) {
                b->other++;
                return false;
        }
        snprintf(b->groups[b->n].capability, sizeof(b->groups[b->n].capability), "%s",
                 m->capability);
        snprintf(b->groups[b->n].prefix, sizeof(b->groups[b->n].prefix), "%s", prefix);
        b->groups[b->n++].count = 1;
        return false;
}

static void emit_group(ob_event_sink *sink, const char *id, const char *principal,
                       const char *capability, const char *prefix, int64_t count)
{
        _cleanup_event_ ob_event *ev = NULL;

        if (ob_event_new(OB_EVENT_CAPABILITY_DENIED_SUMMARY, id, principal, &ev) < 0)
                return;
        ob_event_add_string(ev, "capability", capability);
        ob_event_add_string(ev, "target_prefix", prefix);
        ob_event_add_int(ev, "count", count);
        (void)ob_event_emit(sink, ev);
}

void ob_denial_budget_emit(const ob_denial_budget *b, ob_event_sink *sink, const char *id,
                           const char *principal)
{
        for (size_t i = 0; i < b->n; i++)
                emit_group(sink, id, principal, b->groups[i].capability, b->groups[i].prefix,
                           b->groups[i].count);
        if (b->other > 0) /* more groups than OB_DENIAL_GROUPS: the rest in one */
                emit_group(sink, id, principal, "*", "", b->other);
}
