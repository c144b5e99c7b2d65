/* buf — a growable byte buffer, plus the allocation helpers every module
 * uses. Allocation failure aborts with a message (as git's xmalloc does):
 * there is no useful recovery from it in a backup or a mount. */
#ifndef IMDR_BUF_H
#define IMDR_BUF_H

#include <stddef.h>
#include <stdint.h>

/* data..data+cap is the buffer's room; head bytes of its allocation come
 * before data (0 unless a reader placed the bytes it was asked for at an
 * offset in an aligned block: backends/local.c's direct reads). */
struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t head;
};

#define BUF_INIT { NULL, 0, 0, 0 }

/* mem_tune: cap malloc arenas and trim freed memory, so a process with
 * many threads keeps about the RSS its caches account for. Call once at
 * the start of main. */
void mem_tune(void);
/* mem_tune_stream: for a short command that streams large buffers
 * (restore, drill, search): freed memory stays in the heap for reuse. */
void mem_tune_stream(void);
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* xasprintf: formatted string in fresh memory; caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void buf_init(struct buf *b);
/* buf_free: release memory; the buffer is empty and reusable afterwards. */
void buf_free(struct buf *b);
/* buf_rewind: empty b and give data the room its head took: data is the
 * start of its allocation again. */
void buf_rewind(struct buf *b);
/* buf_reserve: make room for extra more bytes beyond len. */
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_putc(struct buf *b, uint8_t c);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_put_u32le(struct buf *b, uint32_t v);
void buf_put_u64le(struct buf *b, uint64_t v);
/* buf_cstr: NUL-terminate (not counted in len) and return data as a string. */
char *buf_cstr(struct buf *b);
/* buf_steal: hand the memory to the caller; the buffer becomes empty. */
uint8_t *buf_steal(struct buf *b, size_t *ret_len);

uint32_t get_u32le(const uint8_t *p);
uint64_t get_u64le(const uint8_t *p);
void put_u32le(uint8_t *p, uint32_t v);

#endif
