/* SPDX-License-Identifier: Apache-2.0 */
/* The stdio of a command exec'd into a running environment (docs/sidecar.md
 * §Environments). `runsc exec` hands this sidecar one socket as fd 0: the
 * event channel towards the host, and from the host, first one header line
 * (a JSON object: the variables to add to the workload's environment, the
 * environment's secrets among them, so they never appear in a host
 * process's argv or environ), then the workload's stdin as raw bytes until
 * the host shuts its side down. A small relay child copies those bytes into
 * a pipe that becomes the workload's fd 0, so the workload never holds the
 * channel. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/macros.h"
#include "sidecar/sidecar.h"

#define HEADER_MAX  (1024 * 1024)
#define HEADER_VARS 256
#define RELAY_BUF   65536

static bool env_name_ok(const char *s)
{
        if (!s[0] || strlen(s) > 128 || (s[0] >= '0' && s[0] <= '9'))
                return false;
        for (; *s; s++)
                if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
                      (*s >= '0' && *s <= '9') || *s == '_'))
                        return false;
        return true;
}

/* Sets each member of {"env": {NAME: "value", ...}} in our environment,
 * which the workload inherits. */
static int apply_header(const char *line)
{
        cJSON *root = cJSON_Parse(line), *env, *v;
        int n = 0, r = 0;

        if (!root || !cJSON_IsObject(root)) {
                cJSON_Delete(root);
                return -EBADMSG;
        }
        env = cJSON_GetObjectItemCaseSensitive(root, "env");
        if (env && !cJSON_IsObject(env))
                r = -EBADMSG;
        if (r < 0)
                env = NULL;
        cJSON_ArrayForEach (v, env) {
                if (++n > HEADER_VARS || !cJSON_IsString(v) || !env_name_ok(v->string)) {
                        r = -EBADMSG;
                        break;
                }
                if (setenv(v->string, v->valuestring, 1) < 0) {
                        r = negative_errno();
                        break;
                }
        }
        /* the values (secrets) are not kept beyond the environment block */
        if (root)
                cJSON_Delete(root);
        return r;
}

/* Reads the header line; bytes read past it (the start of stdin) go to
 * *ret_rest (malloc'd, *ret_rest_len bytes). */
static int read_header(int chan, char **ret_line, char **ret_rest, size_t *ret_rest_len)
{
        _cleanup_free_ char *buf = malloc(HEADER_MAX + 1);
        size_t len = 0;
        char *nl = NULL;

        if (!buf)
                return -ENOMEM;
        while (!nl) {
                ssize_t n;
                if (len >= HEADER_MAX)
                        return -E2BIG;
                n = read(chan, buf + len, HEADER_MAX - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        return -EPIPE;
                nl = memchr(buf + len, '\n', (size_t)n);
                len += (size_t)n;
        }
        *nl = '\0';
        *ret_rest_len = len - (size_t)(nl + 1 - buf);
        *ret_rest = malloc(*ret_rest_len + 1);
        if (!*ret_rest)
                return -ENOMEM;
        memcpy(*ret_rest, nl + 1, *ret_rest_len);
        *ret_line = TAKE_PTR(buf);
        return 0;
}

static bool write_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t w = write(fd, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return false;
                p += w;
                n -= (size_t)w;
        }
        return true;
}

__attribute__((noreturn)) static void relay(int chan, int out, const char *rest, size_t rest_len)
{
        static char buf[RELAY_BUF];

        (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        signal(SIGPIPE, SIG_IGN);
        if (!write_all(out, rest, rest_len))
                _exit(0);
        for (;;) {
                ssize_t n = read(chan, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0 || !write_all(out, buf, (size_t)n))
                        _exit(0);
        }
}

int ob_exec_stdio(int chan)
{
        _cleanup_free_ char *line = NULL, *rest = NULL;
        size_t rest_len = 0;
        int p[2], r;
        pid_t pid;

        r = read_header(chan, &line, &rest, &rest_len);
        if (r < 0)
                return r;
        r = apply_header(line);
        explicit_bzero(line, strlen(line));
        if (r < 0)
                return r;
        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        pid = fork();
        if (pid < 0) {
                r = negative_errno();
                close(p[0]);
                close(p[1]);
                return r;
        }
        if (pid == 0) {
                close(p[0]);
                relay(chan, p[1], rest, rest_len);
        }
        close(p[1]);
        /* the workload's stdin: dup2 clears close-on-exec on fd 0 */
        r = dup2(p[0], 0) < 0 ? negative_errno() : 0;
        close(p[0]);
        return r;
}
