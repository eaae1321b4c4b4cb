/* SPDX-License-Identifier: Apache-2.0 */
/* env snapshot / restore / reset (DESIGN §6): the workspace as a portable
 * archive (snapshot.c's format: SHA-256 manifest and tree hash), a new
 * environment made from one, and the way back to the post-seed state. The
 * archive holds the workspace and a meta object (template, owner, seed,
 * flags), never a secret. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <unistd.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/fs.h"
#include "environments/env.h"
#include "environments/snapshot.h"
#include "runner/workspace.h"
#include "runner/runner.h"

int ob_env_snapshot_meta(const ob_env_record *r, char **ret)
{
        cJSON *o = cJSON_CreateObject(), *flags;

        if (!o)
                return -ENOMEM;
        cJSON_AddStringToObject(o, "env_id", r->id);
        cJSON_AddStringToObject(o, "owner", r->owner);
        cJSON_AddStringToObject(o, "template", r->template_name);
        if (r->seed)
                cJSON_AddStringToObject(o, "seed", r->seed);
        else
                cJSON_AddNullToObject(o, "seed");
        flags = cJSON_AddArrayToObject(o, "feature_flags");
        for (size_t i = 0; flags && r->flags && r->flags[i]; i++)
                cJSON_AddItemToArray(flags, cJSON_CreateString(r->flags[i]));
        *ret = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        return *ret ? 0 : -ENOMEM;
}

/* A memory snapshot is the supervisor's to take (it owns the sandbox): the
 * environment must be running; the archive goes to an absolute path. */
static int snapshot_memory(const char *state_dir, const ob_env_record *rec, const char *path,
                           char ret_hash[65], ob_error *err)
{
        _cleanup_free_ char *abs = NULL, *req = NULL;
        cJSON *o = NULL, *hash = NULL;
        int r;

        if (rec->state != OB_ENV_RUNNING)
                return ob_error_set_code(err, "not_running", ESRCH,
                                         "%s is %s: a memory snapshot needs it running", rec->id,
                                         ob_env_state_to_string(rec->state));
        if (path[0] == '/')
                abs = strdup(path);
        else {
                char cwd[PATH_MAX];
                if (!getcwd(cwd, sizeof(cwd)) || asprintf(&abs, "%s/%s", cwd, path) < 0)
                        abs = NULL;
        }
        if (abs) { /* a bad path is refused before the environment is paused */
                _cleanup_free_ char *parent = strdup(abs);
                char *slash = parent ? strrchr(parent, '/') : NULL;
                struct stat st;
                if (slash)
                        *slash = '\0';
                if (slash && (stat(parent[0] ? parent : "/", &st) < 0 || !S_ISDIR(st.st_mode)))
                        return ob_error_set_code(err, "invalid", ENOTDIR,
                                                 "%s: no such directory for the snapshot",
                                                 parent[0] ? parent : "/");
        }
        o = abs ? cJSON_CreateObject() : NULL;
        if (o && cJSON_AddStringToObject(o, "op", "snapshot") &&
            cJSON_AddStringToObject(o, "output", abs))
                req = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!req)
                return -ENOMEM;
        r = ob_env_request(state_dir, rec, req, "tree_hash", &hash, err);
        if (r >= 0 && (!cJSON_IsString(hash) || strlen(hash->valuestring) != 64))
                r = ob_error_set(err, 0, 0, EBADMSG, "the supervisor's answer has no tree hash");
        if (r >= 0)
                memcpy(ret_hash, hash->valuestring, 65);
        cJSON_Delete(hash);
        return r;
}

int ob_env_snapshot(const char *state_dir, const char *id_or_name, const char *out, char **ret_path,
                    char ret_hash[65], ob_error *err)
{
        return ob_env_snapshot_memory(state_dir, id_or_name, out, false, ret_path, ret_hash, err);
}

int ob_env_snapshot_memory(const char *state_dir, const char *id_or_name, const char *out,
                           bool memory, char **ret_path, char ret_hash[65], ob_error *err)
{
        ob_env_record rec = {0};
        _cleanup_free_ char *meta = NULL, *path = NULL;
        char ws[PATH_MAX], dir[PATH_MAX];
        bool mounted_here = false;
        int r = ob_env_get(state_dir, id_or_name, &rec, err);

        if (r < 0)
                return r;
        if (rec.state != OB_ENV_RUNNING && rec.state != OB_ENV_STOPPED) {
                r = ob_error_set_code(err, "not_running", ESRCH, "%s is %s: no workspace", rec.id,
                                      ob_env_state_to_string(rec.state));
                goto done;
        }
        if (out)
                path = strdup(out);
        else {
                _cleanup_free_ char *snaps = NULL;
                if (asprintf(&snaps, "%s/snapshots", ob_env_state_dir(state_dir)) < 0 ||
                    ob_mkdir_p(snaps, 0700) < 0 ||
                    asprintf(&path, "%s/%s-%lld.tar.gz", snaps, rec.id, (long long)time(NULL)) < 0)
                        path = NULL;
        }
        if (path && memory) {
                r = snapshot_memory(state_dir, &rec, path, ret_hash, err);
                goto taken;
        }
        r = path ? ob_env_path(state_dir, rec.id, "workspace", ws, sizeof(ws)) : -ENOMEM;
        if (r >= 0)
                r = ob_env_path(state_dir, rec.id, NULL, dir, sizeof(dir));
        if (r >= 0)
                r = ob_env_snapshot_meta(&rec, &meta);
        if (r >= 0 && !ob_workspace_is_mounted(dir)) { /* a stopped one's */
                r = ob_workspace_mount(dir, err);
                mounted_here = r >= 0;
        }
        if (r >= 0)
                r = ob_snapshot_write(ws, meta, path, ret_hash, err);
        if (mounted_here)
                (void)ob_workspace_unmount(dir, NULL);
taken:
        if (r >= 0) {
                const char *kv[] = {"path",   path,     "tree_hash",
                                    ret_hash, "memory", memory ? "yes" : "no"};
                (void)ob_env_emit(state_dir, OB_EVENT_SNAPSHOT_TAKEN, &rec, kv, 6);
                *ret_path = TAKE_PTR(path);
        } else if (!err->message[0])
                ob_error_set(err, 0, 0, -r, "snapshot of %s: %s", rec.id, strerror(-r));
done:
        ob_env_record_done(&rec);
        return r;
}

static const char *meta_string(const cJSON *meta, const char *key)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

int ob_env_restore(const char *state_dir, const char *archive, const char *owner, const char *name,
                   ob_env_record *ret, ob_error *err)
{
        _cleanup_free_ char *text = NULL;
        const char *flags[OB_ENV_MAX_FLAGS + 2] = {""};
        bool memory = false;
        ob_env_create_opts o;
        cJSON *meta;
        const cJSON *f, *fl;
        size_t n = 0;
        int r = ob_snapshot_read_info(archive, &text, &memory, err);

        ob_env_create_opts_init(&o);
        if (r < 0)
                return r;
        meta = cJSON_Parse(text);
        fl = cJSON_GetObjectItemCaseSensitive(meta, "feature_flags");
        cJSON_ArrayForEach (f, fl) {
                if (cJSON_IsString(f) && n < OB_ENV_MAX_FLAGS)
                        flags[n++] = f->valuestring;
        }
        flags[n ? n : 1] = NULL; /* no flags: {"", NULL}, not the template's defaults */
        o.owner = owner ? owner : meta_string(meta, "owner");
        o.template_name = meta_string(meta, "template");
        o.seed = meta_string(meta, "seed");
        o.flags = flags;
        o.name = name;
        o.restore_from = archive;
        if (!o.owner || !o.template_name)
                r = ob_error_set_code(err, "snapshot_corrupt", EBADMSG,
                                      "%s: the snapshot names no owner or template", archive);
        if (r >= 0)
                r = ob_env_create(state_dir, &o, ret, NULL, err);
        if (r >= 0) {
                const char *kv[] = {"archive", archive,
                                    "from",    meta_string(meta, "env_id"),
                                    "memory",  memory ? "yes" : "no"};
                (void)ob_env_emit(state_dir, OB_EVENT_SNAPSHOT_RESTORED, ret, kv, 6);
        }
        cJSON_Delete(meta);
        return r;
}

int ob_env_workspace_reset(const char *state_dir, const char *id, int64_t size_mb, ob_error *err)
{
        char dir[PATH_MAX], ws[PATH_MAX], post[PATH_MAX], hash[OB_SNAPSHOT_HASH_HEX];
        int r = ob_env_path(state_dir, id, NULL, dir, sizeof(dir));

        if (r >= 0)
                r = ob_env_path(state_dir, id, "workspace", ws, sizeof(ws));
        if (r >= 0)
                r = ob_env_path(state_dir, id, "post-seed.tar.gz", post, sizeof(post));
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "%s: %s", id, strerror(-r));
        r = ob_workspace_destroy(dir, err);
        if (r >= 0)
                r = ob_workspace_create(dir, size_mb, OB_SANDBOX_UID, OB_SANDBOX_UID, err);
        if (r >= 0)
                r = ob_snapshot_restore(post, ws, OB_SANDBOX_UID, OB_SANDBOX_UID, hash, err);
        return r;
}
