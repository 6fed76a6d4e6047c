#include "testutil.h"

#include <negoex/context.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tu_path(const char *relpath)
{
    static char path[4096];
    const char *base = getenv("NEGOEX_VECTORS");
    if (base == NULL || *base == '\0')
        base = NEGOEX_VECTORS;
    snprintf(path, sizeof path, "%s/%s", base, relpath);
    return path;
}

uint8_t *tu_load(const char *relpath, size_t *len)
{
    const char *path = tu_path(relpath);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open vector %s", path);
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    *len = n;
    return buf;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

uint8_t *tu_unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex);
    uint8_t *out = malloc(n / 2 + 1);
    assert_non_null(out);
    size_t o = 0;
    int hi = -1;
    for (size_t i = 0; i < n; i++) {
        int v = hexval((unsigned char)hex[i]);
        if (v < 0)
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            out[o++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    *len = o;
    return out;
}

/* Tracked test memory and contexts: the teardown releases whatever a failed
 * assertion left behind, so sanitizer runs stay leak-free. */
#define MAX_TRACKED 1024
#define MAX_TRACKED_CTX 64
static void *tracked[MAX_TRACKED];
static negoex_context *tracked_ctx[MAX_TRACKED_CTX];

void tu_track(void *p)
{
    for (size_t i = 0; i < MAX_TRACKED; i++) {
        if (tracked[i] == NULL) {
            tracked[i] = p;
            return;
        }
    }
    fail_msg("too many live test buffers");
}

void tu_untrack(void *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < MAX_TRACKED; i++) {
        if (tracked[i] == p) {
            tracked[i] = NULL;
            return;
        }
    }
    fail_msg("freeing an untracked test buffer");
}

void *tu_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    assert_non_null(p);
    tu_track(p);
    return p;
}

void *tu_realloc(void *p, size_t n)
{
    /* p is looked up before realloc: its value is not to be used after */
    if (p != NULL)
        tu_untrack(p);
    void *q = realloc(p, n ? n : 1);
    if (q == NULL && p != NULL)
        tu_track(p); /* still ours, released by the teardown */
    assert_non_null(q);
    tu_track(q);
    return q;
}

void tu_free(void *p)
{
    tu_untrack(p);
    free(p);
}

uint8_t *tu_load_tracked(const char *relpath, size_t *len)
{
    uint8_t *p = tu_load(relpath, len);
    tu_track(p);
    return p;
}

void tu_ctx_track(negoex_context *c)
{
    for (size_t i = 0; i < MAX_TRACKED_CTX; i++) {
        if (tracked_ctx[i] == NULL) {
            tracked_ctx[i] = c;
            return;
        }
    }
    fail_msg("too many live contexts");
}

void tu_ctx_free(negoex_context *c)
{
    for (size_t i = 0; c != NULL && i < MAX_TRACKED_CTX; i++)
        if (tracked_ctx[i] == c)
            tracked_ctx[i] = NULL;
    negoex_context_free(c);
}

int tu_release_all(void **state)
{
    (void)state;
    for (size_t i = 0; i < MAX_TRACKED_CTX; i++) {
        negoex_context_free(tracked_ctx[i]);
        tracked_ctx[i] = NULL;
    }
    for (size_t i = 0; i < MAX_TRACKED; i++) {
        free(tracked[i]);
        tracked[i] = NULL;
    }
    return 0;
}
