/* SPDX-License-Identifier: Apache-2.0 */
/* The gzip layer of a snapshot, checked whole before libarchive reads it:
 * libarchive neither verifies the gzip trailer (CRC-32, length) nor reads
 * past the tar end marker, so without this a flipped byte there, or in the
 * header's time and OS fields, would go unnoticed. With it, every byte of
 * the file is either pinned or covered by the CRC. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "environments/snapshot-internal.h"

/* What ob_snapshot_write's libarchive gzip filter writes ("gzip:!timestamp"):
 * magic, deflate, no flags, mtime 0, no extra flags, OS Unix. */
static const unsigned char gzip_header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};

static ssize_t read_full(int fd, void *buf, size_t len)
{
        size_t done = 0;

        while (done < len) {
                ssize_t n = read(fd, (char *)buf + done, len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                done += (size_t)n;
        }
        return (ssize_t)done;
}

/* Inflates the rest of fd; 0 at a clean end of one gzip member that ends
 * the file, -EBADMSG otherwise, -errno on read errors. */
static int inflate_all(int fd, z_stream *z, const unsigned char *first, size_t first_len)
{
        unsigned char in[65536], out[65536];
        int zr = Z_OK;

        memcpy(in, first, first_len);
        z->next_in = in;
        z->avail_in = (uInt)first_len;
        while (zr != Z_STREAM_END) {
                if (z->avail_in == 0) {
                        ssize_t n = read_full(fd, in, sizeof(in));
                        if (n < 0)
                                return (int)n;
                        if (n == 0)
                                return -EBADMSG; /* truncated */
                        z->next_in = in;
                        z->avail_in = (uInt)n;
                }
                z->next_out = out;
                z->avail_out = sizeof(out);
                zr = inflate(z, Z_NO_FLUSH);
                if (zr != Z_OK && zr != Z_STREAM_END)
                        return -EBADMSG;
        }
        if (z->avail_in != 0 || read_full(fd, in, 1) != 0)
                return -EBADMSG; /* bytes after the member */
        return 0;
}

int ob_snap_verify_gzip(int fd, ob_error *err)
{
        unsigned char head[sizeof(gzip_header)];
        z_stream z = {0};
        ssize_t n;
        int r;

        if (lseek(fd, 0, SEEK_SET) < 0)
                return ob_error_set(err, 0, 0, errno, "snapshot: seek: %s", strerror(errno));
        n = read_full(fd, head, sizeof(head));
        if (n < 0)
                return ob_error_set(err, 0, 0, (int)-n, "snapshot: read: %s", strerror((int)-n));
        if (n != (ssize_t)sizeof(head) || memcmp(head, gzip_header, sizeof(head)) != 0)
                return ob_snap_corrupt(err, "not an omnibase gzip stream");
        if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
                return -ENOMEM;
        r = inflate_all(fd, &z, head, sizeof(head));
        inflateEnd(&z);
        if (r == -EBADMSG)
                return ob_snap_corrupt(err, "gzip stream damaged (CRC, length or framing)");
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "snapshot: read: %s", strerror(-r));
        if (lseek(fd, 0, SEEK_SET) < 0)
                return ob_error_set(err, 0, 0, errno, "snapshot: seek: %s", strerror(errno));
        return 0;
}
