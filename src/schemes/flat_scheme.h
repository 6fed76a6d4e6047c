/*
 * Helpers for schemes whose whole state is one block with nothing pointing
 * into it (the test and nxtoy schemes): such a block starts with a
 * flat_scheme, clones with one memcpy and is wiped when destroyed.
 */
#ifndef NEGOEX_FLAT_SCHEME_H
#define NEGOEX_FLAT_SCHEME_H

#include <negoex/scheme.h>

typedef struct flat_scheme {
    negoex_scheme base;     /* first: the context only sees this */
    negoex_allocator alloc; /* a copy, so the caller's struct need not outlive us */
    int has_alloc;
} flat_scheme;

/* A zeroed block of size bytes (>= sizeof(flat_scheme)) for class cls;
 * NEGOEX_ERR_INVALID_ARGUMENT for an allocator with a method missing. */
int flat_scheme_new(size_t size, const negoex_scheme_class *cls, const negoex_allocator *alloc, flat_scheme **out);
int flat_scheme_clone(const negoex_scheme *s, size_t size, negoex_scheme **copy);
void flat_scheme_destroy(negoex_scheme *s, size_t size);

#endif
