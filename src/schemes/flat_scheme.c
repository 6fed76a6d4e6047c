#include "flat_scheme.h"

#include <openssl/crypto.h>
#include <string.h>

#include "alloc.h"

static const negoex_allocator *allocator_of(const flat_scheme *f)
{
    return f->has_alloc ? &f->alloc : NULL;
}

int flat_scheme_new(size_t size, const negoex_scheme_class *cls, const negoex_allocator *alloc, flat_scheme **out)
{
    *out = NULL;
    if (alloc != NULL && (alloc->alloc == NULL || alloc->realloc == NULL || alloc->free == NULL))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    flat_scheme *f = negoex_mem_alloc(alloc, size);
    if (f == NULL)
        return NEGOEX_ERR_NO_MEMORY;
    memset(f, 0, size);
    f->base.cls = cls;
    if (alloc != NULL) {
        f->alloc = *alloc;
        f->has_alloc = 1;
    }
    *out = f;
    return NEGOEX_OK;
}

int flat_scheme_clone(const negoex_scheme *s, size_t size, negoex_scheme **copy)
{
    const flat_scheme *f = (const flat_scheme *)s;
    if (f == NULL || copy == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    flat_scheme *c = negoex_mem_alloc(allocator_of(f), size);
    if (c == NULL)
        return NEGOEX_ERR_NO_MEMORY;
    memcpy(c, f, size);
    *copy = &c->base;
    return NEGOEX_OK;
}

void flat_scheme_destroy(negoex_scheme *s, size_t size)
{
    flat_scheme *f = (flat_scheme *)s;
    if (f == NULL)
        return;
    /* The allocator lives inside the block being wiped. */
    negoex_allocator a = f->alloc;
    int has_alloc = f->has_alloc;
    negoex_mem_free_secret(has_alloc ? &a : NULL, f, size);
    OPENSSL_cleanse(&a, sizeof a);
}
