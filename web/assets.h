/* SPDX-License-Identifier: Apache-2.0 */
/* The dashboard's files (index.html, app.js, style.css in web/), compiled into omnibased
 * by web/CMakeLists.txt (embed.cmake): the server needs no files at run time. */
#pragma once

#include <stddef.h>

typedef struct ob_web_asset {
        const char *path;         /* "/", "/app.js", "/style.css" */
        const char *content_type; /* "text/html; charset=utf-8", ... */
        const unsigned char *data;
        size_t len;
} ob_web_asset;

/* The asset served at path (index.html at "/" and "/index.html"), or NULL. */
const ob_web_asset *ob_web_find(const char *path);
