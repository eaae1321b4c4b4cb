/* SPDX-License-Identifier: Apache-2.0 */
/* The write bound (limit write_mb, issue 9). This host's ext4 has no project
 * quotas, so what a run may write under its FILE_WRITE grants is bounded by a
 * staging layer: each host directory a FILE_WRITE mount shows (the directory
 * itself, or a granted file's directory) becomes an overlay whose lower layer
 * is that directory and whose upper layer lives on one write_mb ext4 image
 * (runner/workspace.c) at $STATE/writes/<id>/. The sandbox's binds take their
 * sources from the overlays. When the run ends, the upper layers are
 * committed to the host directories and the image removed; gc does the same
 * for a run whose runner was killed, so no write is lost. docs/runner.md §11. */
#pragma once

#include <stdint.h>

#include "common/error.h"
#include "runner/runner.h"

/* With write_mb > 0 and some grant_write mount in plan: makes the image and
 * the overlays (mount points under run_path/wb/) and points those mounts'
 * sources into them (saying so through plan's log). 0 when there is nothing to do. On error nothing
 * is left (no image, loop device, overlay or directory). */
int ob_write_bound_setup(const char *run_path, const char *id, int64_t write_mb,
                         ob_mount_plan *plan, ob_error *err);

/* Unmounts the run's overlays, commits each upper layer to its host
 * directory and removes the image. 0 when the run has no write bound or it
 * was already committed. On a failed commit the image is kept (the error
 * names where) for the next gc to try again. The sandbox must be gone. */
int ob_write_bound_commit(const char *run_path, const char *id, ob_error *err);

/* Commits what runs whose run directory is gone left in state_dir/writes/.
 * Returns how many it committed; each failure is one stderr line. */
unsigned ob_write_bound_gc(const char *state_dir);
