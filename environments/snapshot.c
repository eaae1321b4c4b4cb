/* SPDX-License-Identifier: Apache-2.0 */
/* Workspace snapshots: a pax (restricted) tar, gzip, written with libarchive;
 * restored strictly (every entry checked against the MANIFEST, the MANIFEST
 * against the header's tree hash), extracted with *at() calls that never
 * follow a symlink. docs/environments-workspace.md §Snapshots. */
#define _GNU_SOURCE
#include "environments/snapshot.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/json.h"
#include "environments/snapshot-internal.h"

#define META_MAX (64 * 1024)

/* libarchive is loaded when a snapshot is first written or read, not at the
 * start of every program that links this library: with libxml2 and ICU it
 * is a dozen shared objects, 5-10 ms of every `omnibase` start at load here
 * (docs/performance.md, "Cold start steps"). */
#define LA_FUNCS(X)                                                                                \
        X(archive_entry_filetype)                                                                  \
        X(archive_entry_free)                                                                      \
        X(archive_entry_hardlink)                                                                  \
        X(archive_entry_new)                                                                       \
        X(archive_entry_pathname)                                                                  \
        X(archive_entry_perm)                                                                      \
        X(archive_entry_set_filetype)                                                              \
        X(archive_entry_set_mtime)                                                                 \
        X(archive_entry_set_pathname)                                                              \
        X(archive_entry_set_perm)                                                                  \
        X(archive_entry_set_size)                                                                  \
        X(archive_entry_set_symlink)                                                               \
        X(archive_entry_size)                                                                      \
        X(archive_entry_size_is_set)                                                               \
        X(archive_entry_symlink)                                                                   \
        X(archive_errno)                                                                           \
        X(archive_error_string)                                                                    \
        X(archive_read_data)                                                                       \
        X(archive_read_free)                                                                       \
        X(archive_read_new)                                                                        \
        X(archive_read_next_header)                                                                \
        X(archive_read_open_fd)                                                                    \
        X(archive_read_support_filter_gzip)                                                        \
        X(archive_read_support_format_tar)                                                         \
        X(archive_write_add_filter_gzip)                                                           \
        X(archive_write_close)                                                                     \
        X(archive_write_data)                                                                      \
        X(archive_write_free)                                                                      \
        X(archive_write_header)                                                                    \
        X(archive_write_new)                                                                       \
        X(archive_write_open_fd)                                                                   \
        X(archive_write_set_bytes_per_block)                                                       \
        X(archive_write_set_format_pax_restricted)                                                 \
        X(archive_write_set_options)

static struct {
#define LA_FIELD(f) __typeof__(f) *f;
        LA_FUNCS(LA_FIELD)
#undef LA_FIELD
} la;
static const char *la_failure;

/* 0 when every function is there; -ELIBACC (la_failure says why) if not. */
static int la_load(void)
{
        static int state; /* 0: not tried; 1: loaded; < 0: failed */
        void *h;

        if (state)
                return state < 0 ? state : 0;
        h = dlopen(OB_LIBARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                la_failure = dlerror();
                return state = -ELIBACC;
        }
#define LA_SYM(f)                                                                                  \
        if (!(la.f = (__typeof__(la.f))dlsym(h, #f))) {                                            \
                la_failure = #f " is missing";                                                     \
                return state = -ELIBACC;                                                           \
        }
        LA_FUNCS(LA_SYM)
#undef LA_SYM
        state = 1;
        return 0;
}

static struct archive *la_write_new(void)
{
        return la_load() < 0 ? NULL : la.archive_write_new();
}

static struct archive *la_read_new(void)
{
        return la_load() < 0 ? NULL : la.archive_read_new();
}

/* every other call goes through the table, loaded by the two above */
#define archive_entry_filetype                  la.archive_entry_filetype
#define archive_entry_free                      la.archive_entry_free
#define archive_entry_hardlink                  la.archive_entry_hardlink
#define archive_entry_new                       la.archive_entry_new
#define archive_entry_pathname                  la.archive_entry_pathname
#define archive_entry_perm                      la.archive_entry_perm
#define archive_entry_set_filetype              la.archive_entry_set_filetype
#define archive_entry_set_mtime                 la.archive_entry_set_mtime
#define archive_entry_set_pathname              la.archive_entry_set_pathname
#define archive_entry_set_perm                  la.archive_entry_set_perm
#define archive_entry_set_size                  la.archive_entry_set_size
#define archive_entry_set_symlink               la.archive_entry_set_symlink
#define archive_entry_size                      la.archive_entry_size
#define archive_entry_size_is_set               la.archive_entry_size_is_set
#define archive_entry_symlink                   la.archive_entry_symlink
#define archive_errno                           la.archive_errno
#define archive_error_string                    la.archive_error_string
#define archive_read_data                       la.archive_read_data
#define archive_read_free                       la.archive_read_free
#define archive_read_next_header                la.archive_read_next_header
#define archive_read_open_fd                    la.archive_read_open_fd
#define archive_read_support_filter_gzip        la.archive_read_support_filter_gzip
#define archive_read_support_format_tar         la.archive_read_support_format_tar
#define archive_write_add_filter_gzip           la.archive_write_add_filter_gzip
#define archive_write_close                     la.archive_write_close
#define archive_write_data                      la.archive_write_data
#define archive_write_free                      la.archive_write_free
#define archive_write_header                    la.archive_write_header
#define archive_write_open_fd                   la.archive_write_open_fd
#define archive_write_set_bytes_per_block       la.archive_write_set_bytes_per_block
#define archive_write_set_format_pax_restricted la.archive_write_set_format_pax_restricted
#define archive_write_set_options               la.archive_write_set_options
#define archive_write_new                       la_write_new
#define archive_read_new                        la_read_new

static void archive_writep(struct archive **a)
{
        if (*a)
                archive_write_free(*a);
}

static void archive_readp(struct archive **a)
{
        if (*a)
                archive_read_free(*a);
}

static void archive_entryp(struct archive_entry **e)
{
        if (*e)
                archive_entry_free(*e);
}

static void cjsonp(cJSON **j)
{
        cJSON_Delete(*j);
}

static void treep(ob_snap_tree *t)
{
        ob_snap_tree_done(t);
}

/* The tree of dir and its MANIFEST. */
static int scan_path(const char *dir, ob_snap_tree *ret_tree, char **ret_manifest, size_t *ret_len,
                     ob_error *err)
{
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r;

        if (fd < 0)
                return ob_error_set(err, 0, 0, errno, "snapshot: %s: %s", dir, strerror(errno));
        r = ob_snap_tree_scan(fd, ret_tree, err);
        if (r < 0)
                return r;
        r = ob_snap_manifest(ret_tree, ret_manifest, ret_len);
        if (r < 0) {
                ob_snap_tree_done(ret_tree);
                return ob_error_set(err, 0, 0, -r, "snapshot: MANIFEST: %s", strerror(-r));
        }
        return 0;
}

int ob_snapshot_tree_hash(const char *dir, char ret[OB_SNAPSHOT_HASH_HEX], ob_error *err)
{
        _cleanup_(treep) ob_snap_tree t = {0};
        _cleanup_free_ char *manifest = NULL;
        size_t len = 0;
        int r = scan_path(dir, &t, &manifest, &len, err);

        return r < 0 ? r : ob_sha256_hex(manifest, len, ret);
}

/* ---- writing ---- */

static int aw_error(struct archive *a, ob_error *err)
{
        int e = archive_errno(a);
        return ob_error_set(err, 0, 0, e > 0 ? e : EIO, "snapshot: archive: %s",
                            archive_error_string(a) ? archive_error_string(a) : "error");
}

/* Writes one entry's header (portable: no owner, no times). */
static int put_header(struct archive *a, const char *name, mode_t type, mode_t perm, int64_t size,
                      const char *symlink, ob_error *err)
{
        _cleanup_(archive_entryp) struct archive_entry *e = archive_entry_new();

        if (!e)
                return -ENOMEM;
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, type);
        archive_entry_set_perm(e, perm);
        archive_entry_set_size(e, size);
        archive_entry_set_mtime(e, 0, 0);
        if (symlink)
                archive_entry_set_symlink(e, symlink);
        return archive_write_header(a, e) == ARCHIVE_OK ? 0 : aw_error(a, err);
}

static int put_blob(struct archive *a, const char *name, const char *data, size_t len,
                    ob_error *err)
{
        int r = put_header(a, name, AE_IFREG, 0644, (int64_t)len, NULL, err);

        if (r >= 0 && len && archive_write_data(a, data, len) != (la_ssize_t)len)
                r = aw_error(a, err);
        return r;
}

/* Streams one file, checking it still is what the MANIFEST says. */
static int put_file(struct archive *a, int rootfd, const ob_snap_entry *e, const char *name,
                    ob_error *err)
{
        const char *base;
        _cleanup_close_ int dfd = ob_snap_open_parent(rootfd, e->path, &base), fd = -1;
        char buf[65536], hash[OB_SNAPSHOT_HASH_HEX];
        struct stat st;
        int64_t done = 0;
        ob_sha256 s;
        int r;

        if (dfd >= 0)
                fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != e->size)
                return ob_error_set(err, 0, 0, EAGAIN, "snapshot: %s changed while writing",
                                    e->path);
        r = put_header(a, name, AE_IFREG, e->mode, e->size, NULL, err);
        if (r < 0 || (r = ob_sha256_init(&s)) < 0)
                return r;
        while (done < e->size) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0 || done + n > e->size)
                        break;
                if (ob_sha256_update(&s, buf, (size_t)n) < 0 ||
                    archive_write_data(a, buf, (size_t)n) != n) {
                        ob_sha256_done(&s);
                        return aw_error(a, err);
                }
                done += n;
        }
        r = ob_sha256_final(&s, hash);
        if (r < 0 || done != e->size || !streq(hash, e->hash))
                return ob_error_set(err, 0, 0, EAGAIN, "snapshot: %s changed while writing",
                                    e->path);
        return 0;
}

static int put_tree(struct archive *a, int rootfd, const ob_snap_tree *t, ob_error *err)
{
        for (size_t i = 0; i < t->n; i++) {
                const ob_snap_entry *e = &t->v[i];
                _cleanup_free_ char *name = NULL;
                int r;
                if (asprintf(&name, OB_SNAP_PREFIX "%s", e->path) < 0)
                        return -ENOMEM;
                if (e->type == 'f')
                        r = put_file(a, rootfd, e, name, err);
                else if (e->type == 'd')
                        r = put_header(a, name, AE_IFDIR, e->mode, 0, NULL, err);
                else
                        r = put_header(a, name, AE_IFLNK, 0777, 0, e->target, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The header text: format, tree hash, file count, meta, and the memory
 * image's hash and size when there is one. */
static int header_text(const char *meta_json, const char *hash, size_t files,
                       const ob_snap_entry *mem, char **ret, ob_error *err)
{
        _cleanup_(cjsonp) cJSON *root = cJSON_CreateObject();
        cJSON *meta, *m;

        if (!meta_json)
                meta_json = "{}";
        if (strlen(meta_json) > META_MAX)
                return ob_error_set(err, 0, 0, EFBIG, "snapshot: meta over %d bytes", META_MAX);
        meta = cJSON_Parse(meta_json);
        if (!cJSON_IsObject(meta)) {
                cJSON_Delete(meta);
                return ob_error_set(err, 0, 0, EINVAL, "snapshot: meta is not a JSON object");
        }
        if (!root || !cJSON_AddNumberToObject(root, "format", OB_SNAP_FORMAT) ||
            !cJSON_AddStringToObject(root, "tree_hash", hash) ||
            !cJSON_AddNumberToObject(root, "files", (double)files) ||
            !cJSON_AddItemToObject(root, "meta", meta)) {
                cJSON_Delete(meta);
                return -ENOMEM;
        }
        if (mem && (!(m = cJSON_AddObjectToObject(root, "memory")) ||
                    !cJSON_AddStringToObject(m, "sha256", mem->hash) ||
                    !cJSON_AddNumberToObject(m, "bytes", (double)mem->size)))
                return -ENOMEM;
        *ret = cJSON_PrintUnformatted(root);
        return *ret ? 0 : -ENOMEM;
}

static int write_archive(int fd, int rootfd, const char *header, const char *manifest,
                         size_t manifest_len, const ob_snap_tree *t, int memdirfd,
                         const ob_snap_entry *mem, ob_error *err)
{
        _cleanup_(archive_writep) struct archive *a = archive_write_new();
        int r;

        if (!a)
                return la_failure ? ob_error_set(err, 0, 0, ELIBACC, "snapshot: libarchive: %s",
                                                 la_failure)
                                  : -ENOMEM;
        if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
            archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
            archive_write_set_options(a, "gzip:!timestamp,hdrcharset=BINARY") < ARCHIVE_WARN ||
            archive_write_set_bytes_per_block(a, 512) != ARCHIVE_OK ||
            archive_write_open_fd(a, fd) != ARCHIVE_OK)
                return aw_error(a, err);
        r = put_blob(a, OB_SNAP_HEADER_NAME, header, strlen(header), err);
        if (r >= 0)
                r = put_blob(a, OB_SNAP_MANIFEST_NAME, manifest, manifest_len, err);
        if (r >= 0)
                r = put_tree(a, rootfd, t, err);
        if (r >= 0 && mem)
                r = put_file(a, memdirfd, mem, OB_SNAP_MEMORY_NAME, err);
        if (r >= 0 && archive_write_close(a) != ARCHIVE_OK)
                r = aw_error(a, err);
        return r;
}

/* The memory image as an entry of its directory (*ret_dirfd): size, mode
 * and SHA-256, read once before the archive's header is written. */
static int memory_entry(const char *image, int *ret_dirfd, ob_snap_entry *e, ob_error *err)
{
        _cleanup_free_ char *copy = strdup(image);
        _cleanup_close_ int fd = -1;
        char *slash = copy ? strrchr(copy, '/') : NULL;
        struct stat st;
        int r;

        if (!slash || !slash[1])
                return ob_error_set(err, 0, 0, EINVAL, "snapshot: %s: not a file path", image);
        *slash = '\0';
        *ret_dirfd = open(copy[0] ? copy : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (*ret_dirfd >= 0)
                fd = openat(*ret_dirfd, slash + 1, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return ob_error_set(err, 0, 0, errno ? errno : EINVAL, "snapshot: %s: %s", image,
                                    strerror(errno ? errno : EINVAL));
        *e = (ob_snap_entry){.path = strdup(slash + 1), .type = 'f', .mode = 0600};
        if (!e->path)
                return -ENOMEM;
        r = ob_snap_hash_fd(fd, &e->size, e->hash);
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "snapshot: %s: %s", image, strerror(-r));
        if (e->size > OB_SNAPSHOT_MAX_BYTES)
                return ob_error_set(err, 0, 0, EFBIG, "snapshot: %s: over %lld bytes", image,
                                    (long long)OB_SNAPSHOT_MAX_BYTES);
        return 0;
}

int ob_snapshot_write_memory(const char *dir, const char *meta_json, const char *memory_image,
                             const char *out_path, char ret_hash[OB_SNAPSHOT_HASH_HEX],
                             ob_error *err)
{
        _cleanup_(treep) ob_snap_tree t = {0};
        _cleanup_free_ char *manifest = NULL, *header = NULL, *tmp = NULL;
        _cleanup_close_ int rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd = -1;
        _cleanup_close_ int memdirfd = -1;
        ob_snap_entry mem = {0};
        char hash[OB_SNAPSHOT_HASH_HEX];
        size_t len = 0;
        int r;

        if (rootfd < 0)
                return ob_error_set(err, 0, 0, errno, "snapshot: %s: %s", dir, strerror(errno));
        r = scan_path(dir, &t, &manifest, &len, err);
        if (r >= 0)
                r = ob_sha256_hex(manifest, len, hash);
        if (r >= 0 && memory_image)
                r = memory_entry(memory_image, &memdirfd, &mem, err);
        if (r >= 0 && memory_image && t.bytes + mem.size > OB_SNAPSHOT_MAX_BYTES)
                r = ob_error_set(err, 0, 0, EFBIG,
                                 "snapshot: the workspace and the memory image are over %lld bytes",
                                 (long long)OB_SNAPSHOT_MAX_BYTES);
        if (r >= 0)
                r = header_text(meta_json, hash, t.n, memory_image ? &mem : NULL, &header, err);
        if (r >= 0 && asprintf(&tmp, "%s.tmp-XXXXXX", out_path) < 0)
                r = -ENOMEM;
        if (r >= 0 && (fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
                r = ob_error_set(err, 0, 0, errno, "snapshot: %s: %s", tmp, strerror(errno));
                free(TAKE_PTR(tmp));
        }
        if (r >= 0)
                r = fchmod(fd, 0600) < 0 ? negative_errno() : 0;
        if (r >= 0)
                r = write_archive(fd, rootfd, header, manifest, len, &t, memdirfd,
                                  memory_image ? &mem : NULL, err);
        if (r >= 0 && (fsync(fd) < 0 || rename(tmp, out_path) < 0))
                r = ob_error_set(err, 0, 0, errno, "snapshot: %s: %s", out_path, strerror(errno));
        free(mem.path);
        if (r < 0) {
                if (tmp)
                        (void)unlink(tmp);
                return r;
        }
        memcpy(ret_hash, hash, OB_SNAPSHOT_HASH_HEX);
        return 0;
}

int ob_snapshot_write(const char *dir, const char *meta_json, const char *out_path,
                      char ret_hash[OB_SNAPSHOT_HASH_HEX], ob_error *err)
{
        return ob_snapshot_write_memory(dir, meta_json, NULL, out_path, ret_hash, err);
}

/* ---- reading ---- */

typedef struct snap_header {
        char tree_hash[OB_SNAPSHOT_HASH_HEX];
        size_t files;
        char *meta;  /* malloc'd JSON text */
        bool memory; /* a memory image follows the tree: */
        char memory_hash[OB_SNAPSHOT_HASH_HEX];
        int64_t memory_bytes;
} snap_header;

/* Opens path for reading; verify: check the whole gzip layer first. */
static int open_archive(const char *path, bool verify, struct archive **ret, int *ret_fd,
                        ob_error *err)
{
        _cleanup_(archive_readp) struct archive *a = archive_read_new();
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        int r;

        if (fd < 0)
                return ob_error_set(err, 0, 0, errno, "snapshot: %s: %s", path, strerror(errno));
        r = verify ? ob_snap_verify_gzip(fd, err) : 0;
        if (r < 0)
                return r;
        if (!a && la_failure)
                return ob_error_set(err, 0, 0, ELIBACC, "snapshot: libarchive: %s", la_failure);
        if (!a || archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
            archive_read_support_format_tar(a) != ARCHIVE_OK)
                return -ENOMEM;
        if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK)
                return ob_snap_corrupt(err, "%s", archive_error_string(a));
        *ret = TAKE_PTR(a);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Reads the current entry's data (exactly its size, at most max bytes). */
static int read_blob(struct archive *a, struct archive_entry *e, size_t max, char **ret,
                     size_t *ret_len, ob_error *err)
{
        int64_t size = archive_entry_size(e);
        _cleanup_free_ char *buf = NULL;

        if (archive_entry_filetype(e) != AE_IFREG || !archive_entry_size_is_set(e) || size < 0 ||
            (uint64_t)size > max || archive_entry_hardlink(e))
                return ob_snap_corrupt(err, "%s: bad entry", archive_entry_pathname(e));
        buf = malloc((size_t)size + 1);
        if (!buf)
                return -ENOMEM;
        if (size && archive_read_data(a, buf, (size_t)size) != (la_ssize_t)size)
                return ob_snap_corrupt(err, "%s: truncated", archive_entry_pathname(e));
        buf[size] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = (size_t)size;
        return 0;
}

/* Reads the next entry's header, which must be name. */
static int next_named(struct archive *a, const char *name, struct archive_entry **ret,
                      ob_error *err)
{
        int r = archive_read_next_header(a, ret);
        const char *p;

        if (r != ARCHIVE_OK)
                return ob_snap_corrupt(err, "no %s: %s", name,
                                       r == ARCHIVE_EOF ? "end of archive"
                                                        : archive_error_string(a));
        p = archive_entry_pathname(*ret);
        if (!p || !streq(p, name))
                return ob_snap_corrupt(err, "expected %s first", name);
        return 0;
}

static bool is_hex64(const char *s)
{
        if (!s || strlen(s) != 64)
                return false;
        for (; *s; s++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                        return false;
        return true;
}

/* Checks the header JSON: exactly format 1, tree_hash, files, meta. */
static int parse_header(const char *text, size_t len, snap_header *ret, ob_error *err)
{
        ob_json_doc doc = {0};
        const cJSON *fmt, *hash, *files, *meta, *mem, *mhash, *mbytes;
        int r = ob_json_parse(text, len, OB_SNAP_HEADER_MAX, &doc, NULL);

        if (r < 0)
                return ob_snap_corrupt(err, "header is not valid JSON");
        fmt = cJSON_GetObjectItemCaseSensitive(doc.root, "format");
        hash = cJSON_GetObjectItemCaseSensitive(doc.root, "tree_hash");
        files = cJSON_GetObjectItemCaseSensitive(doc.root, "files");
        meta = cJSON_GetObjectItemCaseSensitive(doc.root, "meta");
        mem = cJSON_GetObjectItemCaseSensitive(doc.root, "memory");
        mhash = cJSON_GetObjectItemCaseSensitive(mem, "sha256");
        mbytes = cJSON_GetObjectItemCaseSensitive(mem, "bytes");
        if (mem &&
            (!cJSON_IsObject(mem) || cJSON_GetArraySize(mem) != 2 ||
             !is_hex64(cJSON_GetStringValue(mhash)) || !cJSON_IsNumber(mbytes) ||
             mbytes->valuedouble < 0 || mbytes->valuedouble > (double)OB_SNAPSHOT_MAX_BYTES ||
             mbytes->valuedouble != (double)(int64_t)mbytes->valuedouble)) {
                ob_json_doc_done(&doc);
                return ob_snap_corrupt(err, "header's memory fields");
        }
        if (!cJSON_IsObject(doc.root) || cJSON_GetArraySize(doc.root) != (mem ? 5 : 4) ||
            !cJSON_IsNumber(fmt) || fmt->valuedouble != OB_SNAP_FORMAT ||
            !is_hex64(cJSON_GetStringValue(hash)) || !cJSON_IsNumber(files) ||
            files->valuedouble < 0 || files->valuedouble > OB_SNAPSHOT_MAX_FILES ||
            files->valuedouble != (double)(size_t)files->valuedouble || !cJSON_IsObject(meta)) {
                ob_json_doc_done(&doc);
                return ob_snap_corrupt(err, "header fields");
        }
        memcpy(ret->tree_hash, hash->valuestring, OB_SNAPSHOT_HASH_HEX);
        ret->files = (size_t)files->valuedouble;
        ret->memory = mem != NULL;
        if (mem) {
                memcpy(ret->memory_hash, mhash->valuestring, OB_SNAPSHOT_HASH_HEX);
                ret->memory_bytes = (int64_t)mbytes->valuedouble;
        }
        ret->meta = cJSON_PrintUnformatted(meta);
        ob_json_doc_done(&doc);
        return ret->meta ? 0 : -ENOMEM;
}

static int read_header(struct archive *a, snap_header *ret, ob_error *err)
{
        struct archive_entry *e;
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = next_named(a, OB_SNAP_HEADER_NAME, &e, err);

        if (r >= 0)
                r = read_blob(a, e, OB_SNAP_HEADER_MAX, &text, &len, err);
        return r < 0 ? r : parse_header(text, len, ret, err);
}

int ob_snapshot_read_info(const char *archive, char **ret_meta_json, bool *ret_memory,
                          ob_error *err)
{
        _cleanup_(archive_readp) struct archive *a = NULL;
        _cleanup_close_ int fd = -1;
        snap_header h = {0};
        int r = open_archive(archive, false, &a, &fd, err);

        if (r >= 0)
                r = read_header(a, &h, err);
        if (r < 0)
                return r;
        *ret_meta_json = h.meta;
        if (ret_memory)
                *ret_memory = h.memory;
        return 0;
}

int ob_snapshot_read_meta(const char *archive, char **ret_meta_json, ob_error *err)
{
        return ob_snapshot_read_info(archive, ret_meta_json, NULL, err);
}

/* ---- restoring ---- */

typedef struct restore_ctx {
        struct archive *a;
        int rootfd;
        uid_t uid;
        gid_t gid;
        int64_t bytes;
        const char *memory_out; /* where a memory image goes (NULL: checked, not kept) */
        bool memory_made;       /* memory_out was written */
} restore_ctx;

/* Reads the current entry to its end into fd (-1: nowhere), checking its
 * SHA-256 against m's. */
static int copy_entry(restore_ctx *c, int fd, const ob_snap_entry *m, ob_error *err)
{
        char buf[65536], hash[OB_SNAPSHOT_HASH_HEX];
        ob_sha256 s;
        int r = ob_sha256_init(&s);

        while (r >= 0) {
                la_ssize_t n = archive_read_data(c->a, buf, sizeof(buf));
                if (n == 0)
                        break;
                if (n < 0) {
                        r = ob_snap_corrupt(err, "%s: %s", m->path, archive_error_string(c->a));
                        break;
                }
                c->bytes += n;
                if (c->bytes > OB_SNAPSHOT_MAX_BYTES)
                        r = ob_snap_corrupt(err, "over %lld bytes",
                                            (long long)OB_SNAPSHOT_MAX_BYTES);
                else if (fd >= 0 && write(fd, buf, (size_t)n) != n)
                        r = ob_error_set(err, 0, 0, errno ? errno : EIO, "snapshot: restore %s: %s",
                                         m->path, strerror(errno));
                else
                        r = ob_sha256_update(&s, buf, (size_t)n);
        }
        if (r < 0) {
                ob_sha256_done(&s);
                return r;
        }
        if ((r = ob_sha256_final(&s, hash)) < 0)
                return r;
        if (!streq(hash, m->hash))
                return ob_snap_corrupt(err, "%s: content does not match the %s", m->path,
                                       streq(m->path, OB_SNAP_MEMORY_NAME) ? "header" : "MANIFEST");
        return 0;
}

/* Writes the current entry's data into a new file base under dfd. */
static int restore_file(restore_ctx *c, int dfd, const char *base, const ob_snap_entry *m,
                        ob_error *err)
{
        _cleanup_close_ int fd =
            openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        int r;

        if (fd < 0)
                return ob_error_set(err, 0, 0, errno, "snapshot: restore %s: %s", m->path,
                                    strerror(errno));
        r = copy_entry(c, fd, m, err);
        if (r < 0)
                return r;
        if (fchown(fd, c->uid, c->gid) < 0 || fchmod(fd, m->mode & 0777) < 0)
                return ob_error_set(err, 0, 0, errno, "snapshot: restore %s: %s", m->path,
                                    strerror(errno));
        return 0;
}

static int restore_dir(restore_ctx *c, int dfd, const char *base, const ob_snap_entry *m,
                       ob_error *err)
{
        _cleanup_close_ int fd = -1;

        if (mkdirat(dfd, base, 0700) < 0)
                return ob_error_set(err, 0, 0, errno, "snapshot: restore %s: %s", m->path,
                                    strerror(errno));
        fd = openat(dfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fchown(fd, c->uid, c->gid) < 0 || fchmod(fd, m->mode & 0777) < 0)
                return ob_error_set(err, 0, 0, errno, "snapshot: restore %s: %s", m->path,
                                    strerror(errno));
        return 0;
}

static int restore_link(restore_ctx *c, int dfd, const char *base, const ob_snap_entry *m,
                        struct archive_entry *e, ob_error *err)
{
        const char *target = archive_entry_symlink(e);
        char hash[OB_SNAPSHOT_HASH_HEX];
        int r;

        if (!target || !*target || strlen(target) >= PATH_MAX)
                return ob_snap_corrupt(err, "%s: bad symlink", m->path);
        r = ob_sha256_hex(target, strlen(target), hash);
        if (r < 0)
                return r;
        if (!streq(hash, m->hash))
                return ob_snap_corrupt(err, "%s: link does not match the MANIFEST", m->path);
        if (symlinkat(target, dfd, base) < 0 ||
            fchownat(dfd, base, c->uid, c->gid, AT_SYMLINK_NOFOLLOW) < 0)
                return ob_error_set(err, 0, 0, errno, "snapshot: restore %s: %s", m->path,
                                    strerror(errno));
        return 0;
}

/* Checks that archive entry e is MANIFEST line m, then extracts it. */
static int restore_entry(restore_ctx *c, struct archive_entry *e, const ob_snap_entry *m,
                         ob_error *err)
{
        static const mode_t types[] = {['f'] = AE_IFREG, ['d'] = AE_IFDIR, ['l'] = AE_IFLNK};
        const char *p = archive_entry_pathname(e), *base;
        size_t pl = strlen(OB_SNAP_PREFIX), ml = strlen(m->path);
        _cleanup_close_ int dfd = -1;
        int r;

        if (!p || strncmp(p, OB_SNAP_PREFIX, pl) != 0 || strncmp(p + pl, m->path, ml) != 0 ||
            !(p[pl + ml] == '\0' || (m->type == 'd' && streq(p + pl + ml, "/"))))
                return ob_snap_corrupt(err, "entry %s is not MANIFEST's %s", p ? p : "(null)",
                                       m->path);
        if (archive_entry_hardlink(e) || archive_entry_filetype(e) != types[(int)m->type])
                return ob_snap_corrupt(err, "%s: type differs from the MANIFEST", m->path);
        if (m->type != 'l' && (archive_entry_perm(e) & 07777) != m->mode)
                return ob_snap_corrupt(err, "%s: mode differs from the MANIFEST", m->path);
        if (m->type == 'd' && !streq(m->hash, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca"
                                              "495991b7852b855"))
                return ob_snap_corrupt(err, "%s: directory hash", m->path);
        dfd = ob_snap_open_parent(c->rootfd, m->path, &base);
        if (dfd < 0)
                return ob_error_set(err, 0, 0, -dfd, "snapshot: restore %s: %s", m->path,
                                    strerror(-dfd));
        if (m->type == 'f')
                r = restore_file(c, dfd, base, m, err);
        else if (m->type == 'd')
                r = restore_dir(c, dfd, base, m, err);
        else
                r = restore_link(c, dfd, base, m, e, err);
        return r;
}

/* The memory image after the tree: its name, size and SHA-256 as the
 * header says, written (root's, 0600) to c->memory_out, or only checked. */
static int restore_memory(restore_ctx *c, const snap_header *h, ob_error *err)
{
        ob_snap_entry m = {.path = (char *)OB_SNAP_MEMORY_NAME, .type = 'f', .mode = 0600};
        restore_ctx mc = *c;
        struct archive_entry *e;
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int dfd = -1;
        const char *base = "/dev/null";
        int r = next_named(c->a, OB_SNAP_MEMORY_NAME, &e, err);

        if (r < 0)
                return r;
        if (archive_entry_filetype(e) != AE_IFREG || !archive_entry_size_is_set(e) ||
            archive_entry_size(e) != h->memory_bytes || archive_entry_hardlink(e))
                return ob_snap_corrupt(err, "%s: bad entry", OB_SNAP_MEMORY_NAME);
        memcpy(m.hash, h->memory_hash, OB_SNAPSHOT_HASH_HEX);
        if (c->memory_out) {
                dir = strdup(c->memory_out);
                if (!dir || !strrchr(dir, '/'))
                        return -EINVAL;
                base = c->memory_out + (strrchr(dir, '/') - dir) + 1;
                *strrchr(dir, '/') = '\0';
                dfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd < 0)
                        return ob_error_set(err, 0, 0, errno, "snapshot: %s: %s", dir,
                                            strerror(errno));
        }
        mc.uid = mc.gid = 0;
        c->memory_made = c->memory_out != NULL;
        r = c->memory_out ? restore_file(&mc, dfd, base, &m, err) : copy_entry(&mc, -1, &m, err);
        c->bytes = mc.bytes;
        return r;
}

static int restore_all(restore_ctx *c, char ret_hash[OB_SNAPSHOT_HASH_HEX], ob_error *err)
{
        _cleanup_(treep) ob_snap_tree t = {0};
        _cleanup_free_ char *manifest = NULL, *meta = NULL;
        struct archive_entry *e;
        snap_header h = {0};
        char hash[OB_SNAPSHOT_HASH_HEX];
        size_t len = 0;
        int r = read_header(c->a, &h, err);

        meta = h.meta;
        if (r >= 0)
                r = next_named(c->a, OB_SNAP_MANIFEST_NAME, &e, err);
        if (r >= 0)
                r = read_blob(c->a, e, OB_SNAP_MANIFEST_MAX, &manifest, &len, err);
        if (r >= 0)
                r = ob_sha256_hex(manifest, len, hash);
        if (r < 0)
                return r;
        if (!streq(hash, h.tree_hash))
                return ob_snap_corrupt(err, "MANIFEST does not match the tree hash");
        r = ob_snap_manifest_parse(manifest, len, &t, err);
        if (r < 0)
                return r;
        if (t.n != h.files)
                return ob_snap_corrupt(err, "header says %zu files, MANIFEST %zu", h.files, t.n);
        for (size_t i = 0; i < t.n; i++) {
                r = archive_read_next_header(c->a, &e);
                if (r != ARCHIVE_OK)
                        return ob_snap_corrupt(err, "missing %s: %s", t.v[i].path,
                                               r == ARCHIVE_EOF ? "end of archive"
                                                                : archive_error_string(c->a));
                r = restore_entry(c, e, &t.v[i], err);
                if (r < 0)
                        return r;
        }
        if (h.memory && (r = restore_memory(c, &h, err)) < 0)
                return r;
        r = archive_read_next_header(c->a, &e);
        if (r != ARCHIVE_EOF)
                return ob_snap_corrupt(err, "%s after the last MANIFEST entry",
                                       r == ARCHIVE_OK ? "an unlisted entry" : "garbage");
        memcpy(ret_hash, hash, OB_SNAPSHOT_HASH_HEX);
        return 0;
}

/* fn on every top-level entry of a restored tree but lost+found. */
typedef struct top_ctx {
        int (*fn)(int, const char *);
} top_ctx;

static int top_entry(int rootfd, const char *name, void *userdata)
{
        const top_ctx *t = userdata;
        return streq(name, OB_SNAP_LOST_FOUND) ? 0 : t->fn(rootfd, name);
}

/* Calls fn on every top-level entry of rootfd but lost+found; stops at the
 * first negative return. */
static int for_each_top(int rootfd, int (*fn)(int, const char *))
{
        return ob_dir_each(rootfd, top_entry, &(top_ctx){fn});
}

static int refuse_any(int rootfd, const char *name)
{
        (void)rootfd;
        (void)name;
        return -ENOTEMPTY;
}

static int remove_top(int rootfd, const char *name)
{
        (void)ob_remove_at(rootfd, name, OB_SNAP_MAX_DEPTH + 2);
        return 0;
}

int ob_snapshot_restore_memory(const char *archive, const char *dest_dir, uid_t uid, gid_t gid,
                               const char *memory_out, bool *ret_memory,
                               char ret_hash[OB_SNAPSHOT_HASH_HEX], ob_error *err)
{
        _cleanup_(archive_readp) struct archive *a = NULL;
        _cleanup_close_ int fd = -1;
        _cleanup_close_ int rootfd = open(dest_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char hash[OB_SNAPSHOT_HASH_HEX], check[OB_SNAPSHOT_HASH_HEX];
        restore_ctx c;
        int r;

        if (rootfd < 0)
                return ob_error_set(err, 0, 0, errno, "snapshot: %s: %s", dest_dir,
                                    strerror(errno));
        r = for_each_top(rootfd, refuse_any);
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "snapshot: %s: %s", dest_dir,
                                    r == -ENOTEMPTY ? "not empty" : strerror(-r));
        r = open_archive(archive, true, &a, &fd, err);
        if (r < 0)
                return r;
        c = (restore_ctx){
            .a = a, .rootfd = rootfd, .uid = uid, .gid = gid, .memory_out = memory_out};
        r = restore_all(&c, hash, err);
        if (r >= 0) /* what is on disk now is what was verified */
                r = ob_snapshot_tree_hash(dest_dir, check, err);
        if (r >= 0 && !streq(check, hash))
                r = ob_snap_corrupt(err, "restored tree hash differs");
        if (r < 0) {
                (void)for_each_top(rootfd, remove_top);
                if (c.memory_made && memory_out)
                        (void)unlink(memory_out);
                return r;
        }
        if (ret_memory)
                *ret_memory = c.memory_made;
        memcpy(ret_hash, hash, OB_SNAPSHOT_HASH_HEX);
        return 0;
}

int ob_snapshot_restore(const char *archive, const char *dest_dir, uid_t uid, gid_t gid,
                        char ret_hash[OB_SNAPSHOT_HASH_HEX], ob_error *err)
{
        return ob_snapshot_restore_memory(archive, dest_dir, uid, gid, NULL, NULL, ret_hash, err);
}
