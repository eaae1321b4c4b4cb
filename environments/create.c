/* SPDX-License-Identifier: Apache-2.0 */
/* env create (docs/environments.md): everything is checked before anything
 * is made; the quota check and the insert are one transaction (store.c);
 * then the directory, capability set, flags file, workspace with its seed,
 * sealed secrets and the supervisor, each undone if a later step fails. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "common/fs.h"
#include "environments/env.h"
#include "environments/secrets.h"
#include "environments/seed.h"
#include "environments/snapshot.h"
#include "environments/template.h"
#include "runner/workspace.h"
#include "runner/runner.h"

typedef struct secret_arg {
        char *name;
        uint8_t *value;
        size_t len;
} secret_arg;

typedef struct create_ctx {
        const char *state_dir;
        const ob_env_create_opts *o;
        ob_env_config cfg;
        ob_template *tpl;
        int64_t ttl_s;
        secret_arg secrets[OB_SECRET_MAX_NAMES];
        size_t n_secrets;
        size_t header_bytes; /* of the secrets in an exec's header line */
        char *flags[OB_ENV_MAX_FLAGS + 1];
        size_t n_flags;
        char dir[PATH_MAX];
        bool dir_made;
        int lock_fd; /* envs/<id>/supervisor.lock until the supervisor has it */
} create_ctx;

static void ctx_done(create_ctx *c)
{
        closep(&c->lock_fd);
        for (size_t i = 0; i < c->n_secrets; i++) {
                free(c->secrets[i].name);
                ob_secret_free(c->secrets[i].value, c->secrets[i].len);
        }
        for (size_t i = 0; i < c->n_flags; i++)
                free(c->flags[i]);
        c->tpl = ob_template_free(c->tpl);
}

static bool listed(char *const *v, const char *s)
{
        for (size_t i = 0; v && v[i]; i++)
                if (streq(v[i], s))
                        return true;
        return false;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The flags asked for (or the template's defaults): each one the template
 * offers, no duplicates; sorted. */
static int check_flags(create_ctx *c, ob_error *err)
{
        const char *const *want =
            c->o->flags ? c->o->flags : (const char *const *)c->tpl->flags_default;

        for (size_t i = 0; want && want[i]; i++) {
                if (!want[i][0])
                        continue;
                if (ob_env_flag_check(want[i], err) < 0)
                        return -EINVAL;
                if (!listed(c->tpl->flags_available, want[i]))
                        return ob_error_set_code(err, "invalid", EINVAL,
                                                 "feature flag \"%s\" is not offered by template "
                                                 "%s",
                                                 want[i], c->tpl->name);
                if (listed(c->flags, want[i]))
                        continue;
                if (c->n_flags >= OB_ENV_MAX_FLAGS)
                        return ob_error_set_code(err, "invalid", E2BIG,
                                                 "more than %d feature flags", OB_ENV_MAX_FLAGS);
                if (!(c->flags[c->n_flags++] = strdup(want[i])))
                        return -ENOMEM;
        }
        qsort(c->flags, c->n_flags, sizeof(char *), cmp_str);
        return 0;
}

static int check_ttl(create_ctx *c, ob_error *err)
{
        char a[24], b[24];
        int r = c->o->ttl ? ob_duration_parse(c->o->ttl, &c->ttl_s, err) : 0;

        if (r < 0)
                return r;
        if (!c->o->ttl)
                c->ttl_s = c->tpl->default_ttl_s > 0 ? c->tpl->default_ttl_s : c->cfg.default_ttl_s;
        if (c->tpl->max_ttl_s > 0 && c->ttl_s > c->tpl->max_ttl_s) {
                ob_duration_format(c->tpl->max_ttl_s, a, sizeof(a));
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "--ttl %s: template %s allows at most %s", c->o->ttl,
                                         c->tpl->name, a);
        }
        if (c->ttl_s > c->cfg.max_ttl_without_approval_s && !c->o->approved_by) {
                ob_duration_format(c->ttl_s, a, sizeof(a));
                ob_duration_format(c->cfg.max_ttl_without_approval_s, b, sizeof(b));
                return ob_error_set_code(err, "ttl_needs_approval", EPERM,
                                         "a TTL of %s is past %s: it needs --approved-by", a, b);
        }
        return 0;
}

static int check_secrets(create_ctx *c, ob_error *err)
{
        for (size_t i = 0; c->o->secrets && c->o->secrets[i]; i++) {
                secret_arg *s = &c->secrets[c->n_secrets];
                int r;
                if (c->n_secrets >= OB_SECRET_MAX_NAMES)
                        return ob_error_set_code(err, "invalid", E2BIG, "more than %d secrets",
                                                 OB_SECRET_MAX_NAMES);
                r = ob_secret_read_arg(c->o->secrets[i], &s->name, &s->value, &s->len, err);
                if (r < 0)
                        return r;
                c->n_secrets++;
                if (memchr(s->value, '\0', s->len))
                        return ob_error_set_code(err, "invalid", EINVAL,
                                                 "secret %s holds a NUL byte: an environment "
                                                 "variable cannot carry it",
                                                 s->name);
                c->header_bytes += strlen(s->name) + 8;
                for (size_t k = 0; k < s->len; k++) /* as JSON escapes it */
                        c->header_bytes += s->value[k] < 0x20 ? 6 : 1;
                if (c->header_bytes > OB_ENV_SECRETS_MAX_BYTES)
                        return ob_error_set_code(err, "invalid", E2BIG,
                                                 "the secrets are over %d KiB in all",
                                                 OB_ENV_SECRETS_MAX_BYTES / 1024);
                for (size_t k = 0; k + 1 < c->n_secrets; k++)
                        if (streq(c->secrets[k].name, s->name))
                                return ob_error_set_code(err, "invalid", EINVAL,
                                                         "secret %s is given twice", s->name);
        }
        return 0;
}

/* Everything a create can check before it makes anything. */
static int check(create_ctx *c, ob_error *err)
{
        const ob_env_create_opts *o = c->o;
        _cleanup_free_ char *seed_dir = NULL;
        int r;

        if (!o->owner || !o->template_name)
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "--owner and --template are "
                                         "needed");
        r = ob_env_owner_check(o->owner, err);
        if (r >= 0 && o->name)
                r = ob_env_name_check(o->name, err);
        if (r >= 0)
                r = ob_env_config_load(NULL, &c->cfg, err);
        if (r >= 0)
                r = ob_template_load(o->template_name, &c->tpl, err);
        if (r >= 0)
                r = ob_template_require_approved(c->tpl, err);
        if (r >= 0)
                r = check_ttl(c, err);
        if (r >= 0 && !o->restore_from && (o->seed || c->tpl->default_seed))
                r = ob_seed_find(o->seed ? o->seed : c->tpl->default_seed, &seed_dir, err);
        if (r >= 0)
                r = check_flags(c, err);
        if (r >= 0)
                r = check_secrets(c, err);
        return r;
}

/* See env.h. */
int ob_env_caps(const ob_capset *tpl_caps, const char *id, ob_capset **ret, ob_error *err)
{
        _cleanup_free_ char *copy = NULL;
        char principal[40];
        ob_capset *set = NULL;
        int r;

        r = ob_capset_to_json(tpl_caps, &copy);
        if (r >= 0)
                r = ob_capset_parse(copy, strlen(copy), &set, err);
        ob_env_principal(id, principal, sizeof(principal));
        if (r >= 0)
                r = ob_capset_set_principal(set, principal);
        for (int k = 0; r >= 0 && k < 3; k++) {
                static const ob_cap_kind kinds[] = {OB_CAP_FILE_READ, OB_CAP_FILE_WRITE,
                                                    OB_CAP_FILE_EXEC};
                r = ob_capset_add(set, false, kinds[k], OB_ENV_WORKSPACE, "environment", err);
                if (r >= 0)
                        r = ob_capset_add(set, false, kinds[k], OB_ENV_WORKSPACE "/*",
                                          "environment", err);
        }
        if (r >= 0)
                r = ob_capset_add(set, false, OB_CAP_FILE_READ, OB_ENV_FLAGS_FILE, "environment",
                                  err);
        /* env shell's login shell looks for it (no sandbox has one unless its
         * template mounts it): not a violation */
        if (r >= 0)
                r = ob_capset_add(set, false, OB_CAP_FILE_READ, "/etc/profile", "environment:shell",
                                  err);
        if (r < 0) {
                ob_capset_free(set);
                return r;
        }
        *ret = set;
        return 0;
}

/* The environment's capability set (ob_env_caps) to envs/<id>/caps.json. */
static int write_caps(create_ctx *c, const char *id, ob_error *err)
{
        _cleanup_free_ char *text = NULL;
        char path[PATH_MAX];
        ob_capset *set = NULL;
        int r;

        r = ob_env_caps(c->tpl->caps, id, &set, err);
        if (r >= 0)
                r = ob_capset_to_json(set, &text);
        ob_capset_free(set);
        if (r >= 0)
                r = ob_env_path(c->state_dir, id, "caps.json", path, sizeof(path));
        if (r >= 0)
                r = ob_write_file_mode(path, text, strlen(text), 0600);
        if (r < 0 && !err->message[0])
                ob_error_set(err, 0, 0, -r, "the environment's capability set: %s", strerror(-r));
        return r;
}

/* The flags file: {"env_id": ..., "flags": {name: true...}} readable by the
 * sandbox user; rewritten in place so the sandbox's bind sees changes. */
int ob_env_write_flags(const char *state_dir, const char *id, char *const *flags)
{
        cJSON *root = cJSON_CreateObject(), *f;
        _cleanup_free_ char *text = NULL;
        char path[PATH_MAX];
        _cleanup_close_ int fd = -1;
        int r;

        cJSON_AddStringToObject(root, "env_id", id);
        f = cJSON_AddObjectToObject(root, "flags");
        for (size_t i = 0; flags && flags[i]; i++)
                cJSON_AddTrueToObject(f, flags[i]);
        text = cJSON_Print(root);
        cJSON_Delete(root);
        if (!text)
                return -ENOMEM;
        r = ob_env_path(state_dir, id, "flags.json", path, sizeof(path));
        if (r < 0)
                return r;
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0 || fchmod(fd, 0644) < 0)
                return negative_errno();
        if (write(fd, text, strlen(text)) != (ssize_t)strlen(text) || write(fd, "\n", 1) != 1 ||
            fsync(fd) < 0)
                return negative_errno();
        return 0;
}

/* A snapshot's workspace into ws, and its memory image, if it has one,
 * into envs/<id>/checkpoint/ for the supervisor's first start. */
static int restore_snapshot(create_ctx *c, const ob_env_record *rec, const char *ws,
                            char hash[OB_SNAPSHOT_HASH_HEX], ob_error *err)
{
        char dir[PATH_MAX], img[PATH_MAX];
        bool memory = false;
        int r = ob_env_path(c->state_dir, rec->id, "checkpoint", dir, sizeof(dir));

        if (r >= 0)
                r = ob_env_path(c->state_dir, rec->id, "checkpoint/checkpoint.img", img,
                                sizeof(img));
        if (r >= 0 && mkdir(dir, 0700) < 0)
                r = negative_errno();
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "%s: %s", rec->id, strerror(-r));
        r = ob_snapshot_restore_memory(c->o->restore_from, ws, OB_SANDBOX_UID, OB_SANDBOX_UID, img,
                                       &memory, hash, err);
        if (r < 0 || !memory)
                (void)rmdir(dir);
        return r;
}

/* The seed (or the snapshot restored from), then the post-seed snapshot
 * that env reset returns to. */
static int fill_workspace(create_ctx *c, const ob_env_record *rec, ob_error *err)
{
        _cleanup_free_ char *meta = NULL;
        char ws[PATH_MAX], post[PATH_MAX], hash[OB_SNAPSHOT_HASH_HEX];
        int r = ob_env_path(c->state_dir, rec->id, "workspace", ws, sizeof(ws));

        if (r >= 0)
                r = ob_env_path(c->state_dir, rec->id, "post-seed.tar.gz", post, sizeof(post));
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "%s: %s", rec->id, strerror(-r));
        if (c->o->restore_from)
                r = restore_snapshot(c, rec, ws, hash, err);
        else if (rec->seed)
                r = ob_seed_install(rec->seed, ws, OB_SANDBOX_UID, OB_SANDBOX_UID, err);
        if (r >= 0)
                r = ob_env_snapshot_meta(rec, &meta);
        if (r >= 0)
                r = ob_snapshot_write(ws, meta, post, hash, err);
        return r;
}

/* The directory and everything in it, the sandbox's supervisor last. */
static int make(create_ctx *c, const ob_env_record *rec, ob_error *err)
{
        uint8_t key[OB_SECRET_KEY_BYTES];
        pid_t pid;
        int r;

        r = ob_env_path(c->state_dir, rec->id, NULL, c->dir, sizeof(c->dir));
        if (r >= 0) {
                _cleanup_free_ char *envs = NULL;
                r = asprintf(&envs, "%s/envs", ob_env_state_dir(c->state_dir)) < 0
                        ? -ENOMEM
                        : ob_mkdir_p(envs, 0700);
        }
        if (r >= 0 && mkdir(c->dir, 0700) < 0)
                r = negative_errno();
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "%s: %s", c->dir, strerror(-r));
        c->dir_made = true;
        /* held from now on (then by the supervisor): gc sees it alive */
        c->lock_fd = ob_env_lock(c->state_dir, rec->id);
        if (c->lock_fd < 0)
                return ob_error_set(err, 0, 0, -c->lock_fd, "%s: lock: %s", rec->id,
                                    strerror(-c->lock_fd));
        r = write_caps(c, rec->id, err);
        if (r >= 0 && (r = ob_env_write_flags(c->state_dir, rec->id, c->flags)) < 0)
                ob_error_set(err, 0, 0, -r, "the flags file: %s", strerror(-r));
        if (r >= 0)
                r = ob_workspace_create(c->dir, c->tpl->workspace_mb, OB_SANDBOX_UID,
                                        OB_SANDBOX_UID, err);
        if (r >= 0)
                r = fill_workspace(c, rec, err);
        if (r >= 0 && c->n_secrets > 0)
                r = ob_secret_key_load(ob_env_state_dir(c->state_dir), key, err);
        for (size_t i = 0; r >= 0 && i < c->n_secrets; i++)
                r = ob_secrets_put(c->dir, key, rec->id, c->secrets[i].name, c->secrets[i].value,
                                   c->secrets[i].len, err);
        explicit_bzero(key, sizeof(key));
        if (r >= 0)
                r = ob_env_supervisor_spawn(c->state_dir, rec->id, c->lock_fd, &pid, err);
        return r;
}

static void unmake(create_ctx *c, ob_store *s, const char *id)
{
        if (c->dir_made) {
                (void)ob_workspace_destroy(c->dir, NULL);
                (void)ob_secrets_revoke_all(c->dir, NULL);
                (void)ob_rm_rf(c->dir);
        }
        (void)ob_store_remove(s, id, NULL);
}

/* The record of a new environment made at now; id NULL: a random one. */
static int fill_record(create_ctx *c, int64_t now, const char *id, ob_env_record *rec)
{
        const ob_env_create_opts *o = c->o;
        ob_limits l = ob_limits_effective(ob_capset_limits_const(c->tpl->caps));
        const char *seed = o->seed || o->restore_from ? o->seed : c->tpl->default_seed;

        *rec = (ob_env_record){.state = OB_ENV_CREATING,
                               .created_at = now,
                               .expires_at = now + c->ttl_s,
                               .last_activity_at = now,
                               .memory_mb = l.memory_mb};
        if (id) {
                snprintf(rec->id, sizeof(rec->id), "%s", id);
        } else {
                uint8_t b[6];
                if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
                        return -EIO;
                snprintf(rec->id, sizeof(rec->id), "env-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
                         b[3], b[4], b[5]);
        }
        /* no --name: the template's name and the id's digits (unique) */
        if (o->name)
                rec->name = strdup(o->name);
        else if (asprintf(&rec->name, "%.50s-%s", c->tpl->name, rec->id + 4) < 0)
                rec->name = NULL;
        rec->owner = strdup(o->owner);
        rec->template_name = strdup(c->tpl->name);
        rec->seed = seed ? strdup(seed) : NULL;
        rec->approved_by = o->approved_by ? strdup(o->approved_by) : NULL;
        rec->idempotency_key = o->idempotency_key ? strdup(o->idempotency_key) : NULL;
        rec->flags = calloc(c->n_flags + 1, sizeof(char *));
        rec->secret_names = calloc(c->n_secrets + 1, sizeof(char *));
        if (!rec->name || !rec->owner || !rec->template_name || !rec->flags || !rec->secret_names)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_flags; i++)
                if (!(rec->flags[i] = strdup(c->flags[i])))
                        return -ENOMEM;
        for (size_t i = 0; i < c->n_secrets; i++)
                if (!(rec->secret_names[i] = strdup(c->secrets[i].name)))
                        return -ENOMEM;
        qsort(rec->secret_names, c->n_secrets, sizeof(char *), cmp_str);
        return 0;
}

void ob_env_create_opts_init(ob_env_create_opts *o)
{
        *o = (ob_env_create_opts){.struct_size = sizeof(*o)};
}

int ob_env_create(const char *state_dir, const ob_env_create_opts *o, ob_env_record *ret,
                  bool *ret_existed, ob_error *err)
{
        create_ctx c = {.state_dir = state_dir, .o = o, .lock_fd = -1};
        ob_env_record rec = {0};
        ob_store *s = NULL;
        bool existed = false;
        char ttl[24];
        int r;

        r = ob_error_struct_size(err, "ob_env_create_opts", o->struct_size, sizeof(*o));
        if (r < 0)
                return r;
        r = check(&c, err);
        if (r >= 0)
                r = fill_record(&c, (int64_t)time(NULL), NULL, &rec) < 0 ? -ENOMEM : 0;
        if (r >= 0)
                r = ob_store_open(ob_env_state_dir(state_dir), &s, err);
        if (r >= 0) {
                r = ob_store_create(s, &c.cfg, &rec, &existed, err);
                if (r == -EDQUOT) {
                        const char *kv[] = {"template", o->template_name, "reason", err->message};
                        (void)ob_env_emit(state_dir, OB_EVENT_QUOTA_REFUSED, &rec, kv, 4);
                }
        }
        if (r >= 0 && !existed) {
                r = make(&c, &rec, err);
                if (r < 0)
                        unmake(&c, s, rec.id);
        }
        if (r >= 0 && !existed) {
                ob_duration_format(c.ttl_s, ttl, sizeof(ttl));
                const char *kv[] = {"template", rec.template_name, "seed", rec.seed, "ttl", ttl,
                                    "name",     rec.name};
                (void)ob_env_emit(state_dir, OB_EVENT_ENVIRONMENT_CREATED, &rec, kv, 8);
        }
        if (r >= 0) {
                char id[OB_ENV_ID_LEN + 1];
                snprintf(id, sizeof(id), "%s", rec.id);
                ob_env_record_done(&rec);
                r = ob_store_get(s, id, &rec, err);
        }
        if (r >= 0) {
                *ret = rec;
                rec = (ob_env_record){0};
                if (ret_existed)
                        *ret_existed = existed;
        }
        ob_env_record_done(&rec);
        ob_store_close(s);
        ctx_done(&c);
        return r;
}

/* The plan's id: "env-" and 12 hex digits of SHA-256 over what was asked
 * (owner, template, TTL, seed, flags, name) and now. */
static int plan_id(const create_ctx *c, int64_t now, char id[OB_ENV_ID_LEN + 1])
{
        const ob_env_create_opts *o = c->o;
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned md_len = 0;
        EVP_MD_CTX *h = EVP_MD_CTX_new();
        char num[48];
        bool ok = h && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1;
        const char *parts[] = {o->owner, c->tpl->name, o->seed ? o->seed : "",
                               o->name ? o->name : ""};

        snprintf(num, sizeof(num), "%" PRId64 ":%" PRId64, c->ttl_s, now);
        for (size_t i = 0; ok && i < ARRAY_SIZE(parts); i++)
                ok = EVP_DigestUpdate(h, parts[i], strlen(parts[i]) + 1) == 1;
        for (size_t i = 0; ok && i < c->n_flags; i++)
                ok = EVP_DigestUpdate(h, c->flags[i], strlen(c->flags[i]) + 1) == 1;
        ok = ok && EVP_DigestUpdate(h, num, strlen(num)) == 1 &&
             EVP_DigestFinal_ex(h, md, &md_len) == 1;
        EVP_MD_CTX_free(h);
        if (!ok)
                return -EIO;
        snprintf(id, OB_ENV_ID_LEN + 1, "env-%02x%02x%02x%02x%02x%02x", md[0], md[1], md[2], md[3],
                 md[4], md[5]);
        return 0;
}

/* See env.h. */
int ob_env_plan(const ob_env_create_opts *o, int64_t now, ob_env_record *ret, ob_template **ret_tpl,
                ob_error *err)
{
        create_ctx c = {.o = o, .lock_fd = -1};
        ob_env_record rec = {0};
        char id[OB_ENV_ID_LEN + 1];
        int r;

        if (o->secrets && o->secrets[0])
                return ob_error_set_code(err, "invalid", EINVAL,
                                         "a plan takes no secrets (they are never rendered)");
        r = check(&c, err);
        if (r >= 0)
                r = plan_id(&c, now, id);
        if (r >= 0)
                r = fill_record(&c, now, id, &rec);
        if (r < 0) {
                if (err && !err->message[0])
                        ob_error_set(err, 0, 0, -r, "plan: %s", strerror(-r));
                ob_env_record_done(&rec);
                ctx_done(&c);
                return r;
        }
        rec.state = OB_ENV_CREATING;
        *ret = rec;
        *ret_tpl = TAKE_PTR(c.tpl);
        ctx_done(&c);
        return 0;
}
