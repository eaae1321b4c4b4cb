/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
/* The Event signal on the system bus (sd-bus). Best effort: the log file is
 * authoritative, so an unreachable bus is not an error. */
#include <systemd/sd-bus.h>

#include "audit/audit-internal.h"

sd_bus *ob_audit_bus_open(void)
{
        sd_bus *bus = NULL;

        /* sd-bus honours DBUS_SYSTEM_BUS_ADDRESS. */
        if (sd_bus_open_system(&bus) < 0)
                return NULL;
        return bus;
}

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

void ob_audit_bus_close(sd_bus *bus)
{
        if (bus)
                sd_bus_flush_close_unref(bus);
}
