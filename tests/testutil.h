/* Shared helpers for the unit tests: loading vectors from ../shared/vectors. */
#ifndef NEGOEX_TESTUTIL_H
#define NEGOEX_TESTUTIL_H
#include <stddef.h>
#include <stdint.h>

/* Reads NEGOEX_VECTORS/relpath into a malloc'd buffer; fails the test if missing. */
uint8_t *tu_load(const char *relpath, size_t *len);
/* Parses hex (whitespace ignored) into a malloc'd buffer. */
uint8_t *tu_unhex(const char *hex, size_t *len);
/* Full path of a vector file (static buffer). */
const char *tu_path(const char *relpath);

/* Tracked memory: tu_release_all (a cmocka teardown) frees whatever is left. */
struct negoex_context;
void tu_track(void *p);
void tu_untrack(void *p);
void *tu_malloc(size_t n);
void *tu_realloc(void *p, size_t n);
void tu_free(void *p);
uint8_t *tu_load_tracked(const char *relpath, size_t *len);
void tu_ctx_track(struct negoex_context *c);
void tu_ctx_free(struct negoex_context *c);
int tu_release_all(void **state);
#endif
