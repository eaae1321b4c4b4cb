// SPDX-License-Identifier: Apache-2.0
// A counting sink for gVisor's runtime monitoring (the `remote` sink of a
// runsc --pod-init-config session), for benchmarks/bench_observe.sh.
//
//   observe_sink SOCKET STATS_FILE [RAW_DIR]
//
// Listens on a SOCK_SEQPACKET Unix socket; each sandbox (each sentry)
// connects once. The sentry speaks first: a protobuf Handshake message with
// its wire version; the sink answers with the same bytes (the same version:
// the sink reads nothing it would need a newer version for). Then each
// datagram is one point: an 8-byte little-endian header (header size, message
// type, the sentry's running count of dropped points), then the point's
// protobuf. The payload is never decoded here: the sink counts messages and
// bytes per message type and keeps the last dropped count. When a connection
// ends, one line is appended to STATS_FILE:
//   conn=N messages=M bytes=B dropped=D malformed=X types=T:n,T:n,...
// With RAW_DIR, each connection's datagrams are also written to
// RAW_DIR/conn-N.bin as (u32 length, bytes) records, for
// benchmarks/observe/decode.py. One connection at a time (the benchmark runs
// one sandbox at a time); SIGTERM or SIGINT ends it between connections.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_TYPES     64
#define MAX_DATAGRAM  (256 * 1024)
#define MAX_HANDSHAKE 10240
#define HEADER_SIZE   8

static volatile sig_atomic_t stopping;

struct conn_stats {
        unsigned long long messages, bytes, malformed;
        unsigned long long by_type[MAX_TYPES];
        uint32_t dropped;
};

static void on_signal(int sig)
{
        (void)sig;
        stopping = 1;
}

static uint16_t le16(const unsigned char *p)
{
        return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int listen_on(const char *path)
{
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(addr.sun_path))
                return -ENAMETOOLONG;
        strcpy(addr.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 8) < 0) {
                int err = -errno;
                close(fd);
                return err;
        }
        return fd;
}

// The sentry's Handshake, answered with the same bytes. Returns 0, or -errno.
static int handshake(int fd)
{
        unsigned char buf[MAX_HANDSHAKE];
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
        if (n <= 0 || (size_t)n > sizeof(buf))
                return n < 0 ? -errno : -EPROTO;
        return send(fd, buf, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -EPROTO;
}

static void count(struct conn_stats *st, const unsigned char *buf, size_t n)
{
        st->messages++;
        st->bytes += n;
        if (n < HEADER_SIZE || le16(buf) < HEADER_SIZE || le16(buf) > n) {
                st->malformed++;
                return;
        }
        uint16_t type = le16(buf + 2);
        st->by_type[type < MAX_TYPES ? type : 0]++;
        st->dropped = le32(buf + 4);
}

static void write_raw(FILE *raw, const unsigned char *buf, size_t n)
{
        unsigned char len[4] = {(unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16),
                                (unsigned char)(n >> 24)};
        if (fwrite(len, 1, 4, raw) != 4 || fwrite(buf, 1, n, raw) != n)
                fprintf(stderr, "observe_sink: writing the raw file: %s\n", strerror(errno));
}

static void report(FILE *stats, unsigned long conn, const struct conn_stats *st)
{
        fprintf(stats, "conn=%lu messages=%llu bytes=%llu dropped=%u malformed=%llu types=", conn,
                st->messages, st->bytes, st->dropped, st->malformed);
        const char *sep = "";
        for (int t = 0; t < MAX_TYPES; t++) {
                if (st->by_type[t]) {
                        fprintf(stats, "%s%d:%llu", sep, t, st->by_type[t]);
                        sep = ",";
                }
        }
        fputc('\n', stats);
        fflush(stats);
}

static FILE *open_raw(const char *dir, unsigned long conn)
{
        char path[4096];
        if (!dir || snprintf(path, sizeof(path), "%s/conn-%lu.bin", dir, conn) >= (int)sizeof(path))
                return NULL;
        return fopen(path, "wbe");
}

// Reads one connection to its end. Returns 0, or -errno.
static int serve(int fd, unsigned long conn, FILE *stats, const char *raw_dir)
{
        static unsigned char buf[MAX_DATAGRAM];
        struct conn_stats st = {0};
        int err = handshake(fd);
        if (err < 0)
                return err;
        FILE *raw = open_raw(raw_dir, conn);
        for (;;) {
                ssize_t n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                if ((size_t)n > sizeof(buf)) { // truncated: counted, never parsed past the buffer
                        st.messages++;
                        st.bytes += (unsigned long long)n;
                        st.malformed++;
                        continue;
                }
                count(&st, buf, (size_t)n);
                if (raw)
                        write_raw(raw, buf, (size_t)n);
        }
        if (raw)
                fclose(raw);
        report(stats, conn, &st);
        return 0;
}

int main(int argc, char **argv)
{
        if (argc < 3 || argc > 4) {
                fprintf(stderr, "usage: observe_sink SOCKET STATS_FILE [RAW_DIR]\n");
                return 2;
        }
        struct sigaction sa = {.sa_handler = on_signal}; // no SA_RESTART: accept returns EINTR
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        FILE *stats = fopen(argv[2], "ae");
        if (!stats) {
                fprintf(stderr, "observe_sink: %s: %s\n", argv[2], strerror(errno));
                return 1;
        }
        int lfd = listen_on(argv[1]);
        if (lfd < 0) {
                fprintf(stderr, "observe_sink: %s: %s\n", argv[1], strerror(-lfd));
                return 1;
        }
        for (unsigned long conn = 1; !stopping; conn++) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0) {
                        conn--;
                        if (errno == EINTR)
                                continue;
                        fprintf(stderr, "observe_sink: accept: %s\n", strerror(errno));
                        break;
                }
                int err = serve(fd, conn, stats, argc == 4 ? argv[3] : NULL);
                if (err < 0)
                        fprintf(stderr, "observe_sink: connection %lu: handshake: %s\n", conn,
                                strerror(-err));
                close(fd);
        }
        close(lfd);
        unlink(argv[1]);
        fclose(stats);
        return 0;
}
