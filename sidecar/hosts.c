/* SPDX-License-Identifier: Apache-2.0 */
/* The names /etc/hosts gives an address. A NETWORK_CONNECT grant may name a
 * host ("host.omnibase.internal:8080"); the sidecar only sees the address
 * the workload connects to, and the sandbox's /etc/hosts (written by the
 * runner, read-only to the workload) says which names that address has. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "common/error.h"
#include "sidecar/sidecar.h"

#define HOSTS_MAX_SIZE (64 * 1024)

static bool same_address(const char *text, int family, const void *addr)
{
        unsigned char buf[sizeof(struct in6_addr)];

        if (inet_pton(family, text, buf) != 1)
                return false;
        return memcmp(buf, addr, family == AF_INET ? 4 : 16) == 0;
}

static int add_name(char ***names, size_t *n, const char *name)
{
        char **nv;

        if (*n >= OB_SIDECAR_MAX_HOST_NAMES)
                return 0;
        nv = realloc(*names, (*n + 1) * sizeof(char *));
        if (!nv)
                return -ENOMEM;
        *names = nv;
        nv[*n] = strdup(name);
        if (!nv[*n])
                return -ENOMEM;
        (*n)++;
        return 0;
}

/* One line: "ADDRESS NAME [ALIAS...] [# comment]". */
static int scan_line(char *line, int family, const void *addr, char ***names, size_t *n)
{
        char *save = NULL, *tok;
        int r = 0;

        line[strcspn(line, "#")] = '\0';
        tok = strtok_r(line, " \t\r", &save);
        if (!tok || !same_address(tok, family, addr))
                return 0;
        while (r >= 0 && (tok = strtok_r(NULL, " \t\r", &save)))
                r = add_name(names, n, tok);
        return r;
}

void ob_hosts_names_free(char **names, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
}

int ob_hosts_names(const char *path, int family, const void *addr, char ***ret, size_t *ret_n)
{
        _cleanup_free_ char *text = NULL;
        char **names = NULL, *save = NULL, *line;
        size_t n = 0, len = 0;
        int r = ob_read_file(path, HOSTS_MAX_SIZE, &text, &len);

        if (r < 0) {
                *ret = NULL;
                *ret_n = 0;
                return r == -ENOENT ? 0 : r;
        }
        r = 0;
        for (line = strtok_r(text, "\n", &save); r >= 0 && line; line = strtok_r(NULL, "\n", &save))
                r = scan_line(line, family, addr, &names, &n);
        if (r < 0) {
                ob_hosts_names_free(names, n);
                return r;
        }
        *ret = names;
        *ret_n = n;
        return 0;
}
