/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
/* The Event signal on the system bus (sd-bus). Best effort: the log file is
 * authoritative, so an unreachable bus is not an error. */
#include <systemd/sd-bus.h>

#include "audit/audit-internal.h"

/* How long the first connection may take before the bus counts as
 * unreachable: a hung bus must not hold up the runner. */
#define BUS_READY_TIMEOUT_US (1000 * 1000)

/* A ready system bus connection (caller owns it), or NULL when none answers. */
sd_bus *ob_audit_bus_open(void)
{
        sd_bus *bus = NULL;
        uint64_t waited = 0;

        /* sd-bus honours DBUS_SYSTEM_BUS_ADDRESS. */
        if (sd_bus_open_system(&bus) < 0)
                return NULL;
        while (sd_bus_is_ready(bus) <= 0 && waited < BUS_READY_TIMEOUT_US) {
                int r = sd_bus_process(bus, NULL);
                if (r < 0)
                        break;
                if (r == 0 && sd_bus_wait(bus, 50 * 1000) < 0)
                        break;
                waited += r == 0 ? 50 * 1000 : 0;
        }
        if (sd_bus_is_ready(bus) <= 0) {
                sd_bus_close_unref(bus);
                return NULL;
        }
        return bus;
}

/* Sends one Event signal and flushes it; failures are ignored. */
void ob_audit_bus_emit(sd_bus *bus, uint64_t seq, const char *type, const char *sandbox_id,
                       const char *line, size_t len)
{
        _cleanup_free_ char *json = strndup(line, len);

        if (!bus || !json)
                return;
        (void)sd_bus_emit_signal(bus, OB_AUDIT_DBUS_PATH, OB_AUDIT_DBUS_INTERFACE,
                                 OB_AUDIT_DBUS_SIGNAL, "tsss", seq, type,
                                 sandbox_id ? sandbox_id : "", json);
        /* Hand it to the bus now: the caller may exit right after. */
        (void)sd_bus_flush(bus);
}

/* Flushes and drops the connection; accepts NULL. */
void ob_audit_bus_close(sd_bus *bus)
{
        if (bus)
                sd_bus_flush_close_unref(bus);
}
