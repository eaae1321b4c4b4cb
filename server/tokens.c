/* SPDX-License-Identifier: Apache-2.0 */
/* Bearer tokens of the TCP listener: a file of "TOKEN OWNER" lines ('#'
 * comments), readable by its owner only. Tokens are kept as SHA-256
 * digests and compared in constant time against every one. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/server.h"

#define OB_SRV_TOKEN_MIN 16

static int sha256(const char *s, size_t len, unsigned char out[32])
{
        unsigned int n = 0;

        return EVP_Digest(s, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : -EIO;
}

static int parse_line(char *line, unsigned no, const char *path, ob_srv_token *t, ob_error *err)
{
        char *save = NULL, *token, *owner, *extra;

        token = strtok_r(line, " \t", &save);
        owner = strtok_r(NULL, " \t", &save);
        extra = strtok_r(NULL, " \t", &save);
        if (!owner || extra)
                return ob_error_set(err, no, 1, EINVAL, "%s:%u: want \"TOKEN OWNER\"", path, no);
        if (strlen(token) < OB_SRV_TOKEN_MIN)
                return ob_error_set(err, no, 1, EINVAL,
                                    "%s:%u: the token is shorter than %d characters", path, no,
                                    OB_SRV_TOKEN_MIN);
        if (strlen(owner) > OB_ENV_OWNER_MAX)
                return ob_error_set(err, no, 1, EINVAL, "%s:%u: the owner name is too long", path,
                                    no);
        strcpy(t->owner, owner);
        return sha256(token, strlen(token), t->hash);
}

int ob_srv_tokens_load(const char *path, ob_srv_token **ret, size_t *ret_n, ob_error *err)
{
        _cleanup_free_ ob_srv_token *tokens = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t cap = 0, n = 0;
        unsigned no = 0;
        struct stat st;
        int fd, r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return ob_error_set(err, 0, 0, errno, "--token-file %s: %m", path);
        f = fdopen(fd, "r");
        if (!f) {
                close(fd);
                return ob_error_set(err, 0, 0, errno, "--token-file %s: %m", path);
        }
        if (fstat(fd, &st) < 0)
                return ob_error_set(err, 0, 0, errno, "--token-file %s: %m", path);
        if (!S_ISREG(st.st_mode))
                return ob_error_set(err, 0, 0, EINVAL, "--token-file %s: not a regular file", path);
        if (st.st_mode & 0077)
                return ob_error_set(err, 0, 0, EPERM,
                                    "--token-file %s: mode %04o lets others read it (want 0600 "
                                    "or 0400)",
                                    path, (unsigned)(st.st_mode & 07777));
        if (st.st_uid != geteuid())
                return ob_error_set(err, 0, 0, EPERM,
                                    "--token-file %s: owned by uid %u, not by this server's uid %u",
                                    path, (unsigned)st.st_uid, (unsigned)geteuid());
        tokens = calloc(OB_SRV_MAX_TOKENS, sizeof(*tokens));
        if (!tokens)
                return -ENOMEM;
        for (ssize_t len; (len = getline(&line, &cap, f)) >= 0;) {
                char *s = line;
                no++;
                while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                        line[--len] = '\0';
                s += strspn(s, " \t");
                if (!*s || *s == '#')
                        continue;
                if (n == OB_SRV_MAX_TOKENS)
                        return ob_error_set(err, no, 1, E2BIG, "%s:%u: more than %d tokens", path,
                                            no, OB_SRV_MAX_TOKENS);
                r = parse_line(s, no, path, &tokens[n], err);
                if (r < 0)
                        return r;
                n++;
        }
        explicit_bzero(line, cap);
        if (n == 0)
                return ob_error_set(err, 0, 0, EINVAL, "--token-file %s: no tokens in it", path);
        *ret = TAKE_PTR(tokens);
        *ret_n = n;
        return 0;
}

const char *ob_srv_token_owner(const ob_srv *srv, const char *token)
{
        unsigned char h[32];
        const char *found = NULL;

        if (sha256(token, strlen(token), h) < 0)
                return NULL;
        /* Every token is compared, whatever matched before: the time taken
         * says nothing of which one matched, or how much of it. */
        for (size_t i = 0; i < srv->n_tokens; i++) {
                bool eq = CRYPTO_memcmp(h, srv->tokens[i].hash, sizeof(h)) == 0;
                found = eq ? srv->tokens[i].owner : found;
        }
        return found;
}
