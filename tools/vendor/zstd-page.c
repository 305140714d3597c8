/*
 * kbtf's zstd page decoder: libzstd's decompressor (lib/common, lib/decompress) built to
 * WebAssembly by tools/vendor/zstd-wasm.mjs, with this file as its only interface.
 *
 * makedumpfile -z stores each page as one zstd frame of its own. One decompression context lives
 * in static memory (ZSTD_initStaticDCtx: no allocator, nothing made or freed per page), and the
 * page's input and output live in two static buffers of a largest page (64 KiB) each. Exports:
 *   in_ptr(), out_ptr()     where the caller puts a frame and finds its page
 *   decode(size, capacity)  decode `size` bytes at in_ptr() into out_ptr(): the decoded size,
 *                           -1 when zstd says the input is not a frame of at most `capacity`
 *                           bytes, -2 when the context does not fit its workspace
 *   memory                  the module's memory (fixed: it never grows)
 * It imports nothing. The stack comes first in memory (--stack-first): an overflow traps instead
 * of overwriting the buffers.
 */
#define ZSTD_STATIC_LINKING_ONLY
#include "zstd.h"

#define PAGE_MAX 65536

static unsigned char workspace[128 * 1024] __attribute__((aligned(16)));
static ZSTD_DCtx *dctx;
static unsigned char page_in[PAGE_MAX] __attribute__((aligned(16)));
static unsigned char page_out[PAGE_MAX] __attribute__((aligned(16)));

__attribute__((export_name("in_ptr"))) unsigned char *in_ptr(void) { return page_in; }
__attribute__((export_name("out_ptr"))) unsigned char *out_ptr(void) { return page_out; }

__attribute__((export_name("decode"))) long decode(size_t size, size_t capacity) {
  if (size > PAGE_MAX || capacity > PAGE_MAX) return -1;
  if (!dctx) dctx = ZSTD_initStaticDCtx(workspace, sizeof workspace);
  if (!dctx) return -2;
  size_t n = ZSTD_decompressDCtx(dctx, page_out, capacity, page_in, size);
  return ZSTD_isError(n) ? -1 : (long)n;
}

/* What a freestanding build needs: the compiler's own memory operations (bulk memory), and no heap. */
void *memcpy(void *d, const void *s, size_t n) { return __builtin_memcpy(d, s, n); }
void *memmove(void *d, const void *s, size_t n) { return __builtin_memmove(d, s, n); }
void *memset(void *p, int c, size_t n) { return __builtin_memset(p, c, n); }
void *malloc(size_t n) { (void)n; return 0; }
void *calloc(size_t n, size_t s) { (void)n; (void)s; return 0; }
void free(void *p) { (void)p; }
