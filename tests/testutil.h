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
#endif
