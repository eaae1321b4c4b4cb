/* SPDX-License-Identifier: Apache-2.0 */
/* Snapshots against real trees under /var/tmp: roundtrip (same tree hash,
 * same bytes, symlinks kept as links, never followed), the MANIFEST format
 * pinned by an independent hash, meta, and refusals of truncated, flipped
 * and crafted archives (made here with libarchive), each leaving dest empty. */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cmocka.h>

#include "environments/snapshot.h"
#include "runner/runner.h"
#include "test_util.h"

static char tmpdir[] = "/var/tmp/ob-snapshot-XXXXXX";
static int counter;

static char *sub(const char *name)
{
        char *p = NULL;
        assert_true(asprintf(&p, "%s/%s-%d", tmpdir, name, counter++) > 0);
        return p;
}

static char *join(const char *dir, const char *name)
{
        char *p = NULL;
        assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

static void put(const char *dir, const char *name, const void *data, size_t len, mode_t mode)
{
        _cleanup_free_ char *p = join(dir, name);
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, len), (ssize_t)len);
        assert_int_equal(fchmod(fd, mode), 0);
        close(fd);
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
        unsigned char md[32];
        unsigned int n = 0;

        assert_int_equal(EVP_Digest(data, len, md, &n, EVP_sha256(), NULL), 1);
        for (int i = 0; i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static size_t count_entries(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

static char *read_all(const char *path, size_t *ret_len)
{
        char *buf = NULL;
        size_t len = 0;
        assert_int_equal(ob_read_file(path, 1 << 26, &buf, &len), 0);
        *ret_len = len;
        return buf;
}

static void write_all(const char *path, const void *data, size_t len)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, len), (ssize_t)len);
        close(fd);
}

/* The source tree every test starts from. */
static char *make_tree(void)
{
        char *src = sub("src");
        static unsigned char big[300000];
        _cleanup_free_ char *d = join(src, "dir"), *dd = join(src, "dir/deeper");
        _cleanup_free_ char *l1 = join(src, "shadow"), *l2 = join(src, "rel");
        _cleanup_free_ char *l3 = join(src, "etc"), *fifo = join(src, "fifo");

        for (size_t i = 0; i < sizeof(big); i++)
                big[i] = (unsigned char)(i * 2654435761u >> 13);
        assert_int_equal(mkdir(src, 0700), 0);
        assert_int_equal(mkdir(d, 0750), 0);
        assert_int_equal(mkdir(dd, 0700), 0);
        put(src, "hello.txt", "hello\n", 6, 0644);
        put(src, "empty", "", 0, 0600);
        put(src, "run.sh", "#!/bin/sh\necho hi\n", 18, 04755); /* setuid dropped */
        put(src, "with space and café", "x", 1, 0640);
        put(d, "big.bin", big, sizeof(big), 0644);
        put(dd, "leaf", "leaf", 4, 0444);
        assert_int_equal(symlink("/etc/shadow", l1), 0);
        assert_int_equal(symlink("dir/big.bin", l2), 0);
        assert_int_equal(symlink("/etc", l3), 0); /* a link to a directory: not walked */
        assert_int_equal(mkfifo(fifo, 0600), 0);  /* skipped */
        return src;
}

static void assert_same_file(const char *a, const char *b, const char *name)
{
        _cleanup_free_ char *pa = join(a, name), *pb = join(b, name);
        _cleanup_free_ char *da = NULL, *db = NULL;
        size_t la = 0, lb = 0;

        da = read_all(pa, &la);
        db = read_all(pb, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(da, db, la);
}

static void assert_link(const char *dir, const char *name, const char *target, uid_t uid)
{
        _cleanup_free_ char *p = join(dir, name);
        char buf[256];
        struct stat st;
        ssize_t n;

        assert_int_equal(lstat(p, &st), 0);
        assert_true(S_ISLNK(st.st_mode));
        assert_int_equal(st.st_uid, uid);
        n = readlink(p, buf, sizeof(buf) - 1);
        assert_true(n > 0);
        buf[n] = '\0';
        assert_string_equal(buf, target);
}

static void assert_mode(const char *dir, const char *name, mode_t mode, uid_t uid)
{
        _cleanup_free_ char *p = join(dir, name);
        struct stat st;

        assert_int_equal(lstat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, mode);
        assert_int_equal(st.st_uid, uid);
        assert_int_equal(st.st_gid, uid);
}

/* The entries of an archive as "name type size [link]" lines. */
static char *list_archive(const char *path)
{
        struct archive *a = archive_read_new();
        struct archive_entry *e;
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        archive_read_support_filter_gzip(a);
        archive_read_support_format_tar(a);
        assert_int_equal(archive_read_open_filename(a, path, 10240), ARCHIVE_OK);
        while (archive_read_next_header(a, &e) == ARCHIVE_OK)
                fprintf(f, "%s %o %lld %s\n", archive_entry_pathname(e),
                        (unsigned)archive_entry_filetype(e) >> 12, (long long)archive_entry_size(e),
                        archive_entry_symlink(e) ? archive_entry_symlink(e) : "-");
        archive_read_free(a);
        fclose(f);
        return buf;
}

static void test_roundtrip(void **state)
{
        _cleanup_free_ char *src = make_tree(), *dst = sub("dst"), *dst2 = sub("dst2");
        _cleanup_free_ char *out = sub("snap.tar.gz"), *out2 = sub("snap2.tar.gz");
        _cleanup_free_ char *listing = NULL;
        char h1[OB_SNAPSHOT_HASH_HEX], h2[OB_SNAPSHOT_HASH_HEX], h3[OB_SNAPSHOT_HASH_HEX];
        char h4[OB_SNAPSHOT_HASH_HEX];
        ob_error err = {0};
        struct stat st;

        assert_int_equal(ob_snapshot_tree_hash(src, h1, &err), 0);
        assert_int_equal(ob_snapshot_write(src, "{\"env\":\"e1\"}", out, h2, &err), 0);
        assert_string_equal(h1, h2);
        assert_int_equal(stat(out, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(count_entries(tmpdir), 2); /* src and out: no temp file left */

        /* links archived as links: their text only, nothing behind them */
        listing = list_archive(out);
        assert_non_null(strstr(listing, "workspace/shadow 12 0 /etc/shadow\n"));
        assert_non_null(strstr(listing, "workspace/etc 12 0 /etc\n"));
        assert_null(strstr(listing, "workspace/etc/"));
        assert_null(strstr(listing, "fifo"));
        assert_null(strstr(listing, "root:"));

        assert_int_equal(mkdir(dst, 0700), 0);
        assert_int_equal(ob_snapshot_restore(out, dst, 1000, 1000, h3, &err), 0);
        assert_string_equal(h3, h1);
        assert_int_equal(ob_snapshot_tree_hash(dst, h4, &err), 0);
        assert_string_equal(h4, h1);
        assert_same_file(src, dst, "hello.txt");
        assert_same_file(src, dst, "empty");
        assert_same_file(src, dst, "with space and café");
        assert_same_file(src, dst, "dir/big.bin");
        assert_same_file(src, dst, "dir/deeper/leaf");
        assert_link(dst, "shadow", "/etc/shadow", 1000);
        assert_link(dst, "rel", "dir/big.bin", 1000);
        assert_link(dst, "etc", "/etc", 1000);
        assert_mode(dst, "run.sh", 0755, 1000);
        assert_mode(dst, "dir", 0750, 1000);
        assert_mode(dst, "dir/deeper/leaf", 0444, 1000);
        assert_mode(dst, "with space and café", 0640, 1000);
        assert_int_equal(count_entries(dst), 8);

        /* the same tree again, from the restored copy: the same hash */
        assert_int_equal(ob_snapshot_write(dst, NULL, out2, h2, &err), 0);
        assert_string_equal(h2, h1);
        assert_int_equal(mkdir(dst2, 0700), 0);
        assert_int_equal(ob_snapshot_restore(out2, dst2, 0, 0, h3, &err), 0);
        assert_string_equal(h3, h1);
        /* dest must be empty */
        assert_int_equal(ob_snapshot_restore(out2, dst2, 0, 0, h3, &err), -ENOTEMPTY);
}

/* The format pinned: a tree hash computed here from the documented lines. */
static void test_format(void **state)
{
        _cleanup_free_ char *src = sub("fmt"), *d = join(src, "b"), *l = join(src, "c");
        _cleanup_free_ char *manifest = NULL;
        char ha[65], hb[65], hc[65], tree[65], got[OB_SNAPSHOT_HASH_HEX];
        ob_error err = {0};

        assert_int_equal(mkdir(src, 0700), 0);
        put(src, "a", "hi\n", 3, 0640);
        assert_int_equal(mkdir(d, 0711), 0);
        assert_int_equal(symlink("a", l), 0);
        sha256_hex("hi\n", 3, ha);
        sha256_hex("", 0, hb);
        sha256_hex("a", 1, hc);
        assert_true(asprintf(&manifest, "%s  0640  f  a\n%s  0711  d  b\n%s  0777  l  c\n", ha, hb,
                             hc) > 0);
        sha256_hex(manifest, strlen(manifest), tree);
        assert_int_equal(ob_snapshot_tree_hash(src, got, &err), 0);
        assert_string_equal(got, tree);
        /* mtimes and owners do not count; modes and content do */
        assert_int_equal(lchown(l, 1, 1), 0);
        assert_int_equal(ob_snapshot_tree_hash(src, got, &err), 0);
        assert_string_equal(got, tree);
        assert_int_equal(chmod(d, 0700), 0);
        assert_int_equal(ob_snapshot_tree_hash(src, got, &err), 0);
        assert_string_not_equal(got, tree);
}

static void test_meta(void **state)
{
        _cleanup_free_ char *src = make_tree(), *out = sub("meta.tar.gz");
        _cleanup_free_ char *out2 = sub("nometa.tar.gz"), *bad = sub("bad.tar.gz");
        const char *meta = "{\"env\":\"e-42\",\"owner\":\"alice\",\"seed\":\"synthetic:v1\","
                           "\"flags\":{\"beta\":true}}";
        char h[OB_SNAPSHOT_HASH_HEX];
        char *got = NULL;
        ob_error err = {0};

        assert_int_equal(ob_snapshot_write(src, meta, out, h, &err), 0);
        assert_int_equal(ob_snapshot_read_meta(out, &got, &err), 0);
        assert_string_equal(got, meta);
        free(got);
        assert_int_equal(ob_snapshot_write(src, NULL, out2, h, &err), 0);
        assert_int_equal(ob_snapshot_read_meta(out2, &got, &err), 0);
        assert_string_equal(got, "{}");
        free(got);
        assert_int_equal(ob_snapshot_write(src, "[1]", bad, h, &err), -EINVAL);
        assert_int_equal(ob_snapshot_write(src, "{\"a\":", bad, h, &err), -EINVAL);
        assert_int_equal(access(bad, F_OK), -1);
        assert_int_equal(ob_snapshot_read_meta(src, &got, &err) < 0, 1); /* a directory */
}

/* Restoring archive must fail as corrupt and leave dest empty. */
static void assert_refused(const char *archive, const char *why)
{
        _cleanup_free_ char *dst = sub("dst");
        char h[OB_SNAPSHOT_HASH_HEX];
        ob_error err = {0};
        int r;

        assert_int_equal(mkdir(dst, 0700), 0);
        r = ob_snapshot_restore(archive, dst, 1000, 1000, h, &err);
        if (r != -EBADMSG || !err.code || strcmp(err.code, "snapshot_corrupt") != 0)
                fail_msg("%s: restore gave %d (%s), not snapshot_corrupt", why, r, err.message);
        assert_int_equal(count_entries(dst), 0);
}

static void test_truncated_and_flipped(void **state)
{
        _cleanup_free_ char *src = make_tree(), *out = sub("ok.tar.gz"), *bad = sub("bad.tar.gz");
        _cleanup_free_ char *data = NULL;
        char h[OB_SNAPSHOT_HASH_HEX], why[64];
        ob_error err = {0};
        size_t len = 0;

        assert_int_equal(ob_snapshot_write(src, "{}", out, h, &err), 0);
        data = read_all(out, &len);
        assert_true(len > 200);
        const size_t cuts[] = {0, 10, 100, len / 3, len / 2, len - 40, len - 8, len - 1};
        for (size_t i = 0; i < ARRAY_SIZE(cuts); i++) {
                write_all(bad, data, cuts[i]);
                snprintf(why, sizeof(why), "truncated at %zu", cuts[i]);
                assert_refused(bad, why);
        }
        const size_t flips[] = {0,       1,           2,        3,       12,      30,     len / 4,
                                len / 2, 3 * len / 4, len - 30, len - 8, len - 5, len - 1};
        for (size_t i = 0; i < ARRAY_SIZE(flips); i++) {
                data[flips[i]] ^= 0x20;
                write_all(bad, data, len);
                data[flips[i]] ^= 0x20;
                snprintf(why, sizeof(why), "byte %zu of %zu flipped", flips[i], len);
                assert_refused(bad, why);
        }
        /* the control: the unchanged bytes restore */
        write_all(bad, data, len);
        _cleanup_free_ char *dst = sub("dst-ok");
        assert_int_equal(mkdir(dst, 0700), 0);
        assert_int_equal(ob_snapshot_restore(bad, dst, 0, 0, h, &err), 0);
}

/* The decompressed bytes of a gzip buffer (NULL when it does not inflate). */
static unsigned char *gunzip(const char *data, size_t len, size_t *ret_len)
{
        z_stream z = {0};
        size_t cap = 1 << 20;
        unsigned char *out = malloc(cap);
        int zr;

        assert_non_null(out);
        assert_int_equal(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
        z.next_in = (unsigned char *)data;
        z.avail_in = (uInt)len;
        z.next_out = out;
        z.avail_out = (uInt)cap;
        zr = inflate(&z, Z_FINISH);
        *ret_len = z.total_out;
        inflateEnd(&z);
        if (zr != Z_STREAM_END) {
                free(out);
                return NULL;
        }
        return out;
}

/* A small archive, every byte flipped in turn: refused as corrupt with dest
 * empty, unless the flip only re-encodes the same bytes (deflate can copy a
 * run of zeros from another distance): then the inflated stream is
 * identical and so is the restored tree. */
static void test_every_byte(void **state)
{
        _cleanup_free_ char *src = sub("small"), *d = join(src, "d"), *l = join(src, "l");
        _cleanup_free_ char *out = sub("small.tar.gz"), *bad = sub("bad.tar.gz");
        _cleanup_free_ char *data = NULL;
        _cleanup_free_ unsigned char *plain = NULL;
        char h[OB_SNAPSHOT_HASH_HEX], h2[OB_SNAPSHOT_HASH_HEX], why[64];
        ob_error err = {0};
        size_t len = 0, plain_len = 0, same = 0;

        assert_int_equal(mkdir(src, 0700), 0);
        assert_int_equal(mkdir(d, 0755), 0);
        put(d, "f", "some content\n", 13, 0644);
        assert_int_equal(symlink("d/f", l), 0);
        assert_int_equal(ob_snapshot_write(src, "{\"env\":\"e\"}", out, h, &err), 0);
        data = read_all(out, &len);
        plain = gunzip(data, len, &plain_len);
        assert_non_null(plain);
        for (size_t i = 0; i < len; i++) {
                _cleanup_free_ char *dst = sub("dst");
                _cleanup_free_ unsigned char *p2 = NULL;
                size_t l2 = 0;
                int r;
                data[i] ^= 0x01;
                write_all(bad, data, len);
                p2 = gunzip(data, len, &l2);
                data[i] ^= 0x01;
                assert_int_equal(mkdir(dst, 0700), 0);
                err = (ob_error){0};
                r = ob_snapshot_restore(bad, dst, 0, 0, h2, &err);
                snprintf(why, sizeof(why), "byte %zu of %zu flipped", i, len);
                if (r == 0) {
                        /* accepted: only when nothing that is read changed */
                        if (!p2 || l2 != plain_len || memcmp(p2, plain, l2) != 0)
                                fail_msg("%s: accepted, yet the content differs", why);
                        assert_string_equal(h2, h);
                        same++;
                        continue;
                }
                if (r != -EBADMSG || !err.code || strcmp(err.code, "snapshot_corrupt") != 0)
                        fail_msg("%s: %d (%s)", why, r, err.message);
                assert_int_equal(count_entries(dst), 0);
        }
        print_message("%zu bytes: %zu flips refused, %zu re-encode identical content\n", len,
                      len - same, same);
        assert_true(same < len / 20);
}

/* ---- archives crafted here ---- */

typedef struct craft_entry {
        const char *name; /* the archive's pathname */
        char type;        /* 'f', 'd', 'l', 'h' (hard link), 'p' (fifo), 'c' (char device) */
        const char *data; /* 'f': content; 'l', 'h': target */
        mode_t mode;
} craft_entry;

static void craft_put(struct archive *a, const craft_entry *c)
{
        struct archive_entry *e = archive_entry_new();
        static const mode_t types[] = {['f'] = AE_IFREG, ['d'] = AE_IFDIR, ['l'] = AE_IFLNK,
                                       ['h'] = AE_IFREG, ['p'] = AE_IFIFO, ['c'] = AE_IFCHR};
        size_t len = c->type == 'f' && c->data ? strlen(c->data) : 0;

        archive_entry_set_pathname(e, c->name);
        archive_entry_set_filetype(e, types[(int)c->type]);
        archive_entry_set_perm(e, c->mode);
        archive_entry_set_size(e, (la_int64_t)len);
        if (c->type == 'l')
                archive_entry_set_symlink(e, c->data);
        if (c->type == 'h')
                archive_entry_set_hardlink(e, c->data);
        assert_true(archive_write_header(a, e) >= ARCHIVE_WARN);
        if (len)
                assert_int_equal(archive_write_data(a, c->data, len), (la_ssize_t)len);
        archive_entry_free(e);
}

/* More header keys for the next craft() (",\"memory\":{...}"), or "". */
static const char *craft_header_extra = "";

/* Writes header (tree hash of manifest unless hash is given, files), the
 * MANIFEST and the entries. */
static void craft(const char *out, const char *manifest, const char *hash, int files,
                  const craft_entry *entries, size_t n)
{
        struct archive *a = archive_write_new();
        char tree[65], header[512];

        sha256_hex(manifest, strlen(manifest), tree);
        snprintf(header, sizeof(header),
                 "{\"format\":1,\"tree_hash\":\"%s\",\"files\":%d,"
                 "\"meta\":{}%s}",
                 hash ? hash : tree, files, craft_header_extra);
        archive_write_set_format_pax_restricted(a);
        archive_write_add_filter_gzip(a);
        assert_int_equal(archive_write_set_options(a, "gzip:!timestamp"), ARCHIVE_OK);
        assert_int_equal(archive_write_open_filename(a, out), ARCHIVE_OK);
        craft_put(a, &(craft_entry){"omnibase-snapshot.json", 'f', header, 0644});
        craft_put(a, &(craft_entry){"MANIFEST", 'f', manifest, 0644});
        for (size_t i = 0; i < n; i++)
                craft_put(a, &entries[i]);
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
}

/* Appends a MANIFEST line for content (a file's bytes or a link's text). */
static void line(char **m, const char *content, mode_t mode, char type, const char *path)
{
        char h[65], *n = NULL;
        sha256_hex(content, strlen(content), h);
        assert_true(
            asprintf(&n, "%s%s  %04o  %c  %s\n", *m ? *m : "", h, (unsigned)mode, type, path) > 0);
        free(*m);
        *m = n;
}

static char *base_manifest(void)
{
        char *m = NULL;
        line(&m, "A", 0644, 'f', "a");
        line(&m, "", 0755, 'd', "d");
        line(&m, "B", 0600, 'f', "d/b");
        return m;
}

static const craft_entry base[] = {
    {"workspace/a", 'f', "A", 0644},
    {"workspace/d", 'd', NULL, 0755},
    {"workspace/d/b", 'f', "B", 0600},
};

/* base + one more entry */
static void craft_plus(const char *out, const char *m, craft_entry extra)
{
        craft_entry e[4] = {base[0], base[1], base[2], extra};
        craft(out, m, NULL, 3, e, 4);
}

/* A MANIFEST of one file line at path, and its entry at name. */
static void craft_one(const char *out, const char *path, const char *name)
{
        _cleanup_free_ char *m = NULL;
        line(&m, "X", 0644, 'f', path);
        craft(out, m, NULL, 1, &(craft_entry){name, 'f', "X", 0644}, 1);
}

static void test_crafted(void **state)
{
        _cleanup_free_ char *m = base_manifest(), *out = sub("crafted.tar.gz");
        _cleanup_free_ char *dst = sub("dst-ok"), *escaped = join(tmpdir, "x");
        _cleanup_free_ char *abs = join(tmpdir, "abs"), *m2 = NULL, *m3 = NULL, *m4 = NULL;
        char h[OB_SNAPSHOT_HASH_HEX], tree[65];
        ob_error err = {0};

        /* the control: crafted the right way, it restores */
        craft(out, m, NULL, 3, base, 3);
        assert_int_equal(mkdir(dst, 0700), 0);
        assert_int_equal(ob_snapshot_restore(out, dst, 0, 0, h, &err), 0);
        sha256_hex(m, strlen(m), tree);
        assert_string_equal(h, tree);

        craft_plus(out, m, (craft_entry){"workspace/extra", 'f', "E", 0644});
        assert_refused(out, "an unlisted entry");
        craft_plus(out, m, (craft_entry){"workspace/d/b", 'f', "B", 0600});
        assert_refused(out, "a duplicate entry");
        craft_plus(out, m, (craft_entry){"../x", 'f', "E", 0644});
        assert_refused(out, "an entry ../x after the tree");
        craft_plus(out, m, (craft_entry){abs, 'f', "E", 0644});
        assert_refused(out, "an absolute entry after the tree");
        craft(out, m, NULL, 3, base, 2);
        assert_refused(out, "a missing file");
        craft(out, m, NULL, 2, base, 3);
        assert_refused(out, "a wrong file count");
        craft(out, m, "0000000000000000000000000000000000000000000000000000000000000000", 3, base,
              3);
        assert_refused(out, "a wrong tree hash");

        /* the MANIFEST edited: a mode, a hash; with and without a new tree hash */
        m2 = strdup(m);
        memcpy(strstr(m2, "0644"), "0755", 4);
        craft(out, m2, NULL, 3, base, 3);
        assert_refused(out, "MANIFEST mode edited, tree hash updated");
        sha256_hex(m, strlen(m), tree);
        craft(out, m2, tree, 3, base, 3);
        assert_refused(out, "MANIFEST mode edited");
        m3 = strdup(m);
        m3[0] = m3[0] == 'a' ? 'b' : 'a';
        craft(out, m3, NULL, 3, base, 3);
        assert_refused(out, "MANIFEST hash edited, tree hash updated");
        m4 = NULL;
        line(&m4, "A", 0644, 'f', "a");
        line(&m4, "A", 0644, 'f', "a");
        craft(out, m4, NULL, 2, (craft_entry[]){base[0], base[0]}, 2);
        assert_refused(out, "a duplicate MANIFEST line");

        /* content edited in the entry */
        craft(out, m, NULL, 3, (craft_entry[]){{"workspace/a", 'f', "Z", 0644}, base[1], base[2]},
              3);
        assert_refused(out, "file content edited");

        /* paths that leave dest */
        craft_one(out, "../x", "workspace/../x");
        assert_refused(out, "../x");
        craft_one(out, "d/../../x", "workspace/d/../../x");
        assert_refused(out, "d/../../x");
        craft_one(out, "/etc/ob-snapshot-test-x", "workspace//etc/ob-snapshot-test-x");
        assert_refused(out, "/etc/x in the MANIFEST");
        craft_one(out, "x", "/etc/ob-snapshot-test-x");
        assert_refused(out, "/etc/x as the entry");
        craft_one(out, "x", "x");
        assert_refused(out, "an entry outside workspace/");
        craft_one(out, "x", "workspace/./x");
        assert_refused(out, "workspace/./x");
        assert_int_equal(access(escaped, F_OK), -1);
        assert_int_equal(access(abs, F_OK), -1);
        assert_int_equal(access("/etc/ob-snapshot-test-x", F_OK), -1);

        /* hard links, fifos, devices */
        craft(out, m, NULL, 3,
              (craft_entry[]){base[0], base[1], {"workspace/d/b", 'h', "workspace/a", 0600}}, 3);
        assert_refused(out, "a hard link");
        craft(out, m, NULL, 3,
              (craft_entry[]){base[0], base[1], {"workspace/d/b", 'p', NULL, 0600}}, 3);
        assert_refused(out, "a fifo");
        craft(out, m, NULL, 3,
              (craft_entry[]){base[0], base[1], {"workspace/d/b", 'c', NULL, 0600}}, 3);
        assert_refused(out, "a device");

        /* a file through a symlink (the link listed as such) */
        free(m2);
        m2 = NULL;
        line(&m2, tmpdir, 0777, 'l', "l");
        line(&m2, "X", 0644, 'f', "l/x");
        craft(
            out, m2, NULL, 2,
            (craft_entry[]){{"workspace/l", 'l', tmpdir, 0777}, {"workspace/l/x", 'f', "X", 0644}},
            2);
        assert_refused(out, "a file under a symlink");
        assert_int_equal(access(escaped, F_OK), -1);
}

/* A memory image (env snapshot --memory) after the tree: written and
 * restored byte for byte, checked only when no path is given, absent from
 * a plain archive; a header that names one the archive does not hold as
 * said (missing, another size, another hash, an extra key), or an image
 * the header does not name, is refused with nothing left anywhere. */
static void test_memory(void **state)
{
        _cleanup_free_ char *src = sub("mem-src"), *imgdir = sub("mem-img"),
                            *out = sub("mem.tar.gz");
        _cleanup_free_ char *plain = sub("plain.tar.gz"), *img = NULL, *back = NULL;
        _cleanup_free_ char *got = NULL, *m = base_manifest(), *crafted = sub("mem-crafted.tar.gz");
        _cleanup_free_ char *meta = NULL;
        char h[OB_SNAPSHOT_HASH_HEX], h2[OB_SNAPSHOT_HASH_HEX], ih[65], extra[256];
        unsigned char image[70000];
        ob_error err = {0};
        bool memory = true;
        struct stat st;
        size_t len = 0;

        for (size_t i = 0; i < sizeof(image); i++)
                image[i] = (unsigned char)(i * 7919 + i / 251);
        assert_int_equal(mkdir(src, 0700), 0);
        put(src, "w", "ws\n", 3, 0644);
        assert_int_equal(mkdir(imgdir, 0700), 0);
        put(imgdir, "checkpoint.img", image, sizeof(image), 0600);
        img = join(imgdir, "checkpoint.img");
        back = join(imgdir, "restored.img");
        assert_int_equal(ob_snapshot_write_memory(src, "{}", img, out, h, &err), 0);
        assert_int_equal(ob_snapshot_read_info(out, &meta, &memory, &err), 0);
        assert_true(memory);

        /* restored: the workspace, and the image at the path given */
        {
                _cleanup_free_ char *dst = sub("mem-dst");
                assert_int_equal(mkdir(dst, 0700), 0);
                memory = false;
                assert_int_equal(
                    ob_snapshot_restore_memory(out, dst, 0, 0, back, &memory, h2, &err), 0);
                assert_true(memory);
                assert_string_equal(h2, h);
                got = read_all(back, &len);
                assert_int_equal(len, sizeof(image));
                assert_memory_equal(got, image, sizeof(image));
                assert_int_equal(stat(back, &st), 0);
                assert_int_equal(st.st_mode & 07777, 0600);
                assert_int_equal(unlink(back), 0);
        }
        /* no path: checked, not kept */
        {
                _cleanup_free_ char *dst = sub("mem-dst");
                assert_int_equal(mkdir(dst, 0700), 0);
                assert_int_equal(ob_snapshot_restore(out, dst, 0, 0, h2, &err), 0);
                assert_int_equal(count_entries(imgdir), 1);
        }
        /* a plain archive has none: nothing is written at the path */
        assert_int_equal(ob_snapshot_write(src, "{}", plain, h, &err), 0);
        {
                _cleanup_free_ char *dst = sub("mem-dst");
                assert_int_equal(mkdir(dst, 0700), 0);
                memory = true;
                assert_int_equal(
                    ob_snapshot_restore_memory(plain, dst, 0, 0, back, &memory, h2, &err), 0);
                assert_false(memory);
                assert_int_equal(access(back, F_OK), -1);
        }

        /* crafted: each refused, nothing in dest, nothing at the path */
        sha256_hex("IMAGE", 5, ih);
        const struct {
                const char *header; /* the "memory" object after its sha256, or NULL: none */
                const char *data;   /* the image entry's content, or NULL: no entry */
                const char *why;
        } cases[] = {
            {",\"bytes\":5", NULL, "a named image missing"},
            {",\"bytes\":4", "IMAGE", "an image of another size"},
            {",\"bytes\":5", "IMAGF", "an image with another hash"},
            {",\"bytes\":5,\"x\":1", "IMAGE", "an extra key"},
            {"", "IMAGE", "no size"},
            {NULL, "IMAGE", "an image the header does not name"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                _cleanup_free_ char *dst = sub("mem-dst");
                craft_entry e[4] = {
                    base[0], base[1], base[2], {"memory/checkpoint.img", 'f', cases[i].data, 0600}};
                int r;
                if (cases[i].header)
                        snprintf(extra, sizeof(extra), ",\"memory\":{\"sha256\":\"%s\"%s}", ih,
                                 cases[i].header);
                else
                        extra[0] = '\0';
                craft_header_extra = extra;
                craft(crafted, m, NULL, 3, e, cases[i].data ? 4 : 3);
                craft_header_extra = "";
                assert_int_equal(mkdir(dst, 0700), 0);
                err = (ob_error){0};
                r = ob_snapshot_restore_memory(crafted, dst, 0, 0, back, NULL, h2, &err);
                if (r != -EBADMSG || !err.code || strcmp(err.code, "snapshot_corrupt") != 0)
                        fail_msg("%s: %d (%s)", cases[i].why, r, err.message);
                print_message("%s: refused: %s\n", cases[i].why, err.message);
                assert_int_equal(count_entries(dst), 0);
                assert_int_equal(access(back, F_OK), -1);
        }
        /* the control: crafted the right way, it restores */
        {
                _cleanup_free_ char *dst = sub("mem-dst");
                craft_entry e[4] = {
                    base[0], base[1], base[2], {"memory/checkpoint.img", 'f', "IMAGE", 0600}};
                snprintf(extra, sizeof(extra), ",\"memory\":{\"sha256\":\"%s\",\"bytes\":5}", ih);
                craft_header_extra = extra;
                craft(crafted, m, NULL, 3, e, 4);
                craft_header_extra = "";
                assert_int_equal(mkdir(dst, 0700), 0);
                assert_int_equal(
                    ob_snapshot_restore_memory(crafted, dst, 0, 0, back, NULL, h2, &err), 0);
                free(got);
                got = read_all(back, &len);
                assert_int_equal(len, 5);
                assert_memory_equal(got, "IMAGE", 5);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_roundtrip),  cmocka_unit_test(test_format),
            cmocka_unit_test(test_meta),       cmocka_unit_test(test_truncated_and_flipped),
            cmocka_unit_test(test_every_byte), cmocka_unit_test(test_crafted),
            cmocka_unit_test(test_memory),
        };
        int r;

        if (!mkdtemp(tmpdir))
                ob_test_skip("cannot make a directory under /var/tmp");
        r = cmocka_run_group_tests(tests, NULL, NULL);
        ob_rm_rf(tmpdir);
        return r;
}
