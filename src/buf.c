#include <negoex/scheme.h>

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

void *negoex_mem_alloc(const negoex_allocator *a, size_t size)
{
    return a != NULL ? a->alloc(size, a->ud) : malloc(size);
}

void *negoex_mem_realloc(const negoex_allocator *a, void *p, size_t size)
{
    return a != NULL ? a->realloc(p, size, a->ud) : realloc(p, size);
}

void negoex_mem_free(const negoex_allocator *a, void *p)
{
    if (p == NULL)
        return;
    if (a != NULL)
        a->free(p, a->ud);
    else
        free(p);
}

void negoex_mem_free_secret(const negoex_allocator *a, void *p, size_t size)
{
    if (p == NULL)
        return;
    OPENSSL_cleanse(p, size);
    negoex_mem_free(a, p);
}

void negoex_buf_init(negoex_buf *buf, const negoex_allocator *alloc)
{
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
    buf->alloc = alloc;
}

int negoex_buf_reserve(negoex_buf *buf, size_t len, uint8_t **at)
{
    if (len > SIZE_MAX - buf->len)
        return NEGOEX_ERR_TOO_LARGE;
    size_t need = buf->len + len;
    if (need > buf->cap) {
        size_t cap = buf->cap ? buf->cap : 256;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        /* Not realloc: the old block may hold secrets and must be wiped. */
        uint8_t *p = negoex_mem_alloc(buf->alloc, cap);
        if (p == NULL)
            return NEGOEX_ERR_NO_MEMORY;
        if (buf->len)
            memcpy(p, buf->data, buf->len);
        negoex_mem_free_secret(buf->alloc, buf->data, buf->cap);
        buf->data = p;
        buf->cap = cap;
    }
    *at = buf->data + buf->len;
    return NEGOEX_OK;
}

int negoex_buf_append(negoex_buf *buf, const void *data, size_t len)
{
    if (buf == NULL || (len && data == NULL))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (len == 0)
        return NEGOEX_OK;
    uint8_t *at;
    int rc = negoex_buf_reserve(buf, len, &at);
    if (rc != NEGOEX_OK)
        return rc;
    memcpy(at, data, len);
    buf->len += len;
    return NEGOEX_OK;
}

void negoex_buf_free(negoex_buf *buf)
{
    if (buf == NULL)
        return;
    negoex_mem_free_secret(buf->alloc, buf->data, buf->cap);
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
}
