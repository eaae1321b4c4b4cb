/* SPDX-License-Identifier: Apache-2.0 */
/* A size-bounded directory (issue 9's size bound): an environment's
 * /workspace (issue 10) and the upper layer of a run's write bound
 * (write_bound.h). A sparse
 * ext4 image env_dir/workspace.img of size_mb, loop-mounted (LOOP_CONFIGURE
 * with autoclear, so the loop device goes with the last unmount) on
 * env_dir/workspace, its root owned by uid:gid 0755. This host's ext4 has no
 * project quotas: the image is the bound. docs/environments.md §Workspace. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

#define OB_WORKSPACE_MIN_MB 8
#define OB_WORKSPACE_MAX_MB 65536

/* Makes the image (mkfs.ext4, no journal needed: -O ^has_journal is fine)
 * and mounts it at env_dir/workspace (made 0700 when absent). Refuses when
 * the image exists. On error nothing is left (no image, loop device or
 * mount). */
int ob_workspace_create(const char *env_dir, int64_t size_mb, uid_t uid, gid_t gid, ob_error *err);
/* Mounts an existing image at env_dir/workspace (after a host reboot, or
 * `env start` after a stop). 0 when already mounted there. */
int ob_workspace_mount(const char *env_dir, ob_error *err);
/* Unmounts env_dir/workspace (lazy detach when busy: MNT_DETACH); 0 when
 * not mounted. The loop device goes with it. */
int ob_workspace_unmount(const char *env_dir, ob_error *err);
/* Unmounts and removes the image and the mount point. Idempotent. */
int ob_workspace_destroy(const char *env_dir, ob_error *err);
/* true when env_dir/workspace is a mount point (per /proc/self/mountinfo). */
int ob_workspace_is_mounted(const char *env_dir);
