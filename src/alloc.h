/* The configured allocator, or libc's. */
#ifndef NEGOEX_ALLOC_H
#define NEGOEX_ALLOC_H
#include <negoex/scheme.h>

void *negoex_mem_alloc(const negoex_allocator *a, size_t size);
void *negoex_mem_realloc(const negoex_allocator *a, void *p, size_t size);
void negoex_mem_free(const negoex_allocator *a, void *p);
/* Wipes size bytes then frees. */
void negoex_mem_free_secret(const negoex_allocator *a, void *p, size_t size);
/* Makes room for n more bytes at the end of buf and returns where they go
 * (buf->len is not changed; the caller adds n once written). */
int negoex_buf_reserve(negoex_buf *buf, size_t n, uint8_t **at);
#endif
