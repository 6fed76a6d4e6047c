/*
 * Context entry points for the layers above it inside the library (SPNEGO).
 */
#ifndef NEGOEX_CONTEXT_INTERNAL_H
#define NEGOEX_CONTEXT_INTERNAL_H

#include <negoex/context.h>

/* Runs on the stepped, not yet committed state with the step's result
 * (NEGOEX_CONTINUE / NEGOEX_COMPLETE) and the token the step made; a
 * negative answer undoes the step and is returned by
 * negoex_context_step_checked. The MIC methods of the context work inside it,
 * so the caller can check and build everything that depends on the step
 * before anything is committed. */
typedef int (*negoex_step_check_fn)(void *ud, negoex_context *ctx, int result, const uint8_t *out,
                                    size_t out_len);

int negoex_context_step_checked(negoex_context *ctx, const uint8_t *in, size_t in_len, const uint8_t **out,
                                size_t *out_len, negoex_step_check_fn check, void *check_ud);

/* The allocator the context uses (NULL = libc), for the layers it carries. */
const negoex_allocator *negoex_context_allocator(const negoex_context *ctx);

#endif
