/* SPDX-License-Identifier: Apache-2.0 */
/* A pooled sandbox's PID 1 (docs/runner.md §Warm pool): booted by the
 * runner with no workload, the sidecar says it is ready (SandboxStart with
 * argv0 "(pool)", pid 1) and waits on its channel for exactly one request
 * line, {"argv": ["...", ...]}, the workload's argv. Then it runs it as a
 * one-shot run's PID 1 would (main.c run()). The channel is the socketpair
 * runsc got as stdin: nothing inside the sandbox can write to it. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <omnibase/sandbox.h>

#include "common/macros.h"
#include "channel/channel.h"
#include "sidecar/sidecar.h"

#define REQUEST_MAX  (1024 * 1024)
#define REQUEST_ARGS OB_SANDBOX_MAX_ARGS

/* One line from a blocking fd, byte by byte (nothing past it is read);
 * *ret malloc'd, NUL-terminated. */
static int read_line(int fd, char **ret)
{
        _cleanup_free_ char *buf = malloc(REQUEST_MAX + 1);
        size_t len = 0;

        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, buf + len, 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        return -EPIPE; /* the pool went away: no request will come */
                if (buf[len] == '\n')
                        break;
                if (++len >= REQUEST_MAX)
                        return -E2BIG;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        return 0;
}

int ob_argv_from_json(const cJSON *a, char ***ret)
{
        const cJSON *v;
        char **argv = NULL;
        size_t n = 0;

        if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < 1 || cJSON_GetArraySize(a) > REQUEST_ARGS)
                return -EBADMSG;
        argv = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(char *));
        if (!argv)
                return -ENOMEM;
        cJSON_ArrayForEach (v, a) {
                if (!cJSON_IsString(v) || (n == 0 && !v->valuestring[0])) {
                        ob_strv_free(argv);
                        return -EBADMSG;
                }
                if (!(argv[n++] = strdup(v->valuestring))) {
                        ob_strv_free(argv);
                        return -ENOMEM;
                }
        }
        *ret = argv;
        return 0;
}

/* {"argv": [STRING, ...]} and no other key. */
static int parse_request(const char *line, char ***ret)
{
        cJSON *root = cJSON_Parse(line);
        int r = -EBADMSG;

        if (root && cJSON_IsObject(root) && cJSON_GetArraySize(root) == 1)
                r = ob_argv_from_json(cJSON_GetObjectItemCaseSensitive(root, "argv"), ret);
        cJSON_Delete(root);
        return r;
}

int ob_wait_request(int chan, char ***ret_argv)
{
        ob_channel_msg ready = {.type = OB_CHANNEL_SANDBOX_START, .argv0 = (char *)"(pool)"};
        _cleanup_free_ char *line = NULL;
        int r;

        ready.pid = getpid();
        r = ob_channel_send(chan, &ready);
        if (r < 0)
                return r;
        r = read_line(chan, &line);
        if (r < 0)
                return r;
        return parse_request(line, ret_argv);
}
