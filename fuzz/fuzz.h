/* Helpers shared by the fuzz targets: a check that libFuzzer reports as a crash, and the
 * building blocks of the binary formats the targets and their seed corpora (seeds.c) write. */
#ifndef WEIR_FUZZ_H
#define WEIR_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weir/output.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input file of fuzz_file_payload's job, over which its seeds are taken. */
#define FZ_FILE_INPUT                                                                              \
    "{\"product_id\":\"p1\",\"user_id\":\"u1\",\"timestamp\":\"2024-01-01T00:00:01.000Z\"}\n"      \
    "{\"product_id\":\"p2\",\"user_id\":\"u2\",\"timestamp\":\"2024-01-01T00:00:02.000Z\"}\n"      \
    "{\"product_id\":\"p1\",\"user_id\":\"u3\",\"timestamp\":\"2024-01-01T00:01:03.000Z\"}\n"

/* A broken property: says which and aborts, which libFuzzer reports with the stack. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A growing byte buffer; allocation failure aborts (the targets do not test OOM). */
typedef struct fz_buf {
    uint8_t *p;
    size_t len, cap;
} fz_buf;

static inline void fz_add(fz_buf *b, const void *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = realloc(b->p, cap);
        CHECK(b->p);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static inline void fz_str(fz_buf *b, const char *s)
{
    fz_add(b, s, strlen(s));
}

static inline void fz_le32(fz_buf *b, uint32_t v)
{
    uint8_t x[4];
    for (int i = 0; i < 4; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    fz_add(b, x, 4);
}

static inline void fz_le64(fz_buf *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    fz_add(b, x, 8);
}

/* Appends the n bytes at s as a JSON string literal. */
static inline void fz_json_str(fz_buf *b, const char *s, size_t n)
{
    weir_slice v = {s, n};
    size_t need = weir_json_quote(v, NULL, 0);
    char *q = malloc(need + 1);
    CHECK(q);
    CHECK(weir_json_quote(v, q, need + 1) == need);
    fz_add(b, q, need);
    free(q);
}

/* A copy of the input in a block of exactly its size, so that ASan sees any read past it. */
static inline uint8_t *fz_dup(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size ? size : 1);
    CHECK(p);
    if (size)
        memcpy(p, data, size);
    return p;
}

#endif
