/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "common/error.h"

int ob_error_set(ob_error *err, unsigned line, unsigned column, int errnum, const char *fmt, ...)
{
        if (err) {
                va_list ap;
                err->line = line;
                err->column = column;
                va_start(ap, fmt);
                vsnprintf(err->message, sizeof(err->message), fmt, ap);
                va_end(ap);
        }
        return errnum > 0 ? -errnum : (errnum < 0 ? errnum : -EINVAL);
}

int ob_error_set_code(ob_error *err, const char *code, int errnum, const char *fmt, ...)
{
        if (err) {
                va_list ap;
                err->line = 0;
                err->column = 0;
                err->code = code;
                va_start(ap, fmt);
                vsnprintf(err->message, sizeof(err->message), fmt, ap);
                va_end(ap);
        }
        return errnum > 0 ? -errnum : (errnum < 0 ? errnum : -EINVAL);
}

int ob_error_struct_size(ob_error *err, const char *type, size_t got, size_t want)
{
        if (got == want)
                return 0;
        return ob_error_set_code(err, "invalid", EINVAL,
                                 "%s: struct_size %zu, this library's is %zu (initialise it with "
                                 "%s_init)",
                                 type, got, want, type);
}

int ob_read_file(const char *path, size_t max_len, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0, cap;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (S_ISREG(st.st_mode) && (size_t)st.st_size > max_len)
                return -EFBIG;
        cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 4096;
        buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n;
                if (len + 1 >= cap) {
                        char *nb;
                        if (cap > max_len + 1)
                                return -EFBIG;
                        cap *= 2;
                        nb = realloc(buf, cap);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                }
                n = read(fd, buf + len, cap - len - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len > max_len)
                        return -EFBIG;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}
