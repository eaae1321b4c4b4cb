/* SPDX-License-Identifier: Apache-2.0 */
/* The supervisor's control socket: one JSON line per request and one per
 * answer over a Unix stream socket (0600, root), the caller's stdio for an
 * exec passed along as SCM_RIGHTS. Every read is bounded in size and time,
 * so a stuck client cannot hold the supervisor. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>

#include "environments/env.h"

#define CTL_IO_TIMEOUT_S 5

static int fill_addr(const char *path, struct sockaddr_un *sa)
{
        *sa = (struct sockaddr_un){.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa->sun_path))
                return -ENAMETOOLONG;
        strcpy(sa->sun_path, path);
        return 0;
}

int ob_ctl_listen(const char *path, int *ret_fd)
{
        struct sockaddr_un sa;
        _cleanup_close_ int fd = -1;
        mode_t old;
        int r = fill_addr(path, &sa);

        if (r < 0)
                return r;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        (void)unlink(path);
        old = umask(0177);
        r = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? negative_errno() : 0;
        umask(old);
        if (r < 0)
                return r;
        if (listen(fd, 16) < 0)
                return negative_errno();
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static void set_timeouts(int fd)
{
        struct timeval tv = {.tv_sec = CTL_IO_TIMEOUT_S};

        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int ob_ctl_connect(const char *state_dir, const char *id, int *ret_fd)
{
        char path[4096];
        struct sockaddr_un sa;
        _cleanup_close_ int fd = -1;
        int r = ob_env_path(state_dir, id, "control.sock", path, sizeof(path));

        if (r >= 0)
                r = fill_addr(path, &sa);
        if (r < 0)
                return r;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return negative_errno();
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int ob_ctl_send(int fd, const char *line, const int *fds, size_t n_fds)
{
        size_t len = strlen(line), off = 0;
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(3 * sizeof(int))];
        } cm = {0};
        bool with_fds = n_fds > 0;

        if (n_fds > 3 || memchr(line, '\n', len))
                return -EINVAL;
        set_timeouts(fd);
        while (off <= len) {
                struct iovec iov[2] = {{(void *)(line + off), len - off}, {(void *)"\n", 1}};
                struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
                ssize_t w;
                if (with_fds) {
                        struct cmsghdr *c;
                        mh.msg_control = cm.buf;
                        mh.msg_controllen = CMSG_SPACE(n_fds * sizeof(int));
                        c = CMSG_FIRSTHDR(&mh);
                        c->cmsg_level = SOL_SOCKET;
                        c->cmsg_type = SCM_RIGHTS;
                        c->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
                        memcpy(CMSG_DATA(c), fds, n_fds * sizeof(int));
                }
                w = sendmsg(fd, &mh, MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return negative_errno();
                with_fds = false;
                off += (size_t)w; /* the newline counts: off reaches len + 1 */
        }
        return 0;
}

static void take_fds(struct msghdr *mh, int ret_fds[3], size_t *n)
{
        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
                size_t k;
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < k; i++) {
                        int fd;
                        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                        if (*n < 3)
                                ret_fds[(*n)++] = fd;
                        else
                                close(fd);
                }
        }
}

/* false once deadline (monotonic ms) passed with nothing to read */
static bool wait_readable(int fd, int64_t deadline)
{
        for (;;) {
                int64_t left = deadline - ob_mono_ms();
                struct pollfd f = {.fd = fd, .events = POLLIN};
                int r;
                if (left <= 0)
                        return false;
                r = poll(&f, 1, (int)left);
                if (r > 0)
                        return true;
                if (r == 0 || errno != EINTR)
                        return false;
        }
}

int ob_ctl_recv(int fd, bool timed, char **ret_line, int ret_fds[3], size_t *ret_n_fds)
{
        _cleanup_free_ char *buf = malloc(OB_CTL_MAX_LINE + 1);
        size_t len = 0, n_fds = 0;
        int fds[3] = {-1, -1, -1};
        int64_t deadline = ob_mono_ms() + CTL_IO_TIMEOUT_S * 1000;

        if (!buf)
                return -ENOMEM;
        if (timed)
                set_timeouts(fd);
        else
                (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){0},
                                 sizeof(struct timeval));
        for (;;) {
                union {
                        struct cmsghdr h;
                        char buf[CMSG_SPACE(3 * sizeof(int))];
                } cm;
                /* one byte at a time until the newline: nothing beyond the
                 * line is consumed (the answer to an exec comes later) */
                struct iovec iov = {buf + len, 1};
                struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
                ssize_t n;
                if (n_fds == 0) {
                        mh.msg_control = cm.buf;
                        mh.msg_controllen = sizeof(cm.buf);
                }
                /* the whole request within the bound, not each byte */
                if (timed && !wait_readable(fd, deadline)) {
                        errno = ETIMEDOUT;
                        n = -1;
                } else
                        n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n > 0 && mh.msg_controllen)
                        take_fds(&mh, fds, &n_fds);
                if (n <= 0 || len >= OB_CTL_MAX_LINE || buf[len] == '\n') {
                        bool ok = n > 0 && buf[len] == '\n';
                        if (!ok) {
                                for (size_t i = 0; i < n_fds; i++)
                                        close(fds[i]);
                                return n < 0 ? negative_errno() : n == 0 ? -EPIPE : -E2BIG;
                        }
                        buf[len] = '\0';
                        break;
                }
                len++;
        }
        *ret_line = TAKE_PTR(buf);
        if (ret_fds) {
                memcpy(ret_fds, fds, sizeof(fds));
                *ret_n_fds = n_fds;
        } else
                for (size_t i = 0; i < n_fds; i++)
                        close(fds[i]);
        return 0;
}

int ob_ctl_call(const char *state_dir, const char *id, const char *request, const int *fds,
                size_t n_fds, char **ret_line, ob_error *err)
{
        _cleanup_close_ int fd = -1;
        int r = ob_ctl_connect(state_dir, id, &fd);

        if (r < 0)
                return ob_error_set_code(err, "not_running", r,
                                         "%s: its supervisor does not answer (%s)", id,
                                         strerror(-r));
        r = ob_ctl_send(fd, request, fds, n_fds);
        if (r >= 0) /* an exec's answer comes when it ends: no time bound */
                r = ob_ctl_recv(fd, false, ret_line, NULL, NULL);
        if (r < 0)
                return ob_error_set(err, 0, 0, -r, "%s: talking to its supervisor: %s", id,
                                    strerror(-r));
        return 0;
}
