/* A window's dictionary of distinct values: sizing, growth, export (the hot path is inline
 * in dict.h). */
#include "state/dict.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "state/bytes.h"

/* Large tables are probed at random, one slot per record: with 4 KiB pages nearly every
 * probe also misses the TLB. Asking for transparent huge pages removes most of those. */
#define HUGE_BYTES (2u << 20)
#define MIN_CAP    64u
#define MAX_CAP    (7u << 28)

static weir__dict_slot *alloc_slots(uint32_t n)
{
    size_t bytes = (size_t)n * sizeof(weir__dict_slot);
    if (bytes < HUGE_BYTES)
        return calloc(n, sizeof(weir__dict_slot));
    void *p = NULL;
    if (posix_memalign(&p, HUGE_BYTES, bytes) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE);
#endif
    memset(p, 0, bytes);
    return p;
}

/* The ladder step after cap: 2^k * {4, 5, 6, 7} / 4. */
static uint32_t next_cap(uint32_t cap)
{
    uint32_t p = 1;
    while (p * 2 <= cap)
        p *= 2;
    /* cap = p * q / 4 with q in 4..7 (p >= 64, so p / 4 is exact) */
    return cap + p / 4;
}

int weir__dict_init(weir__dict *d, uint32_t expected)
{
    uint32_t cap = MIN_CAP;
    while (cap < MAX_CAP && (uint64_t)cap * 7 < (uint64_t)expected * 8)
        cap = next_cap(cap);
    d->slots = alloc_slots(cap);
    if (!d->slots)
        return -1;
    d->cap = cap;
    d->count = 0;
    return 0;
}

void weir__dict_free(weir__dict *d)
{
    free(d->slots);
    d->slots = NULL;
    d->cap = 0;
    d->count = 0;
}

int weir__dict_grow(weir__dict *d)
{
    if (d->cap >= MAX_CAP)
        return -1;
    weir__dict nd = {alloc_slots(next_cap(d->cap)), next_cap(d->cap), d->count};
    if (!nd.slots)
        return -1;
    for (uint32_t i = 0; i < d->cap; i++) {
        weir__dict_slot s = d->slots[i];
        if (!s.id1)
            continue;
        uint32_t j = weir__dict_home(&nd, s.hi);
        while (nd.slots[j].id1)
            if (++j == nd.cap)
                j = 0;
        nd.slots[j] = s;
    }
    free(d->slots);
    *d = nd;
    return 0;
}

void weir__dict_export(const weir__dict *d, uint8_t *out)
{
    for (uint32_t i = 0; i < d->cap; i++) {
        const weir__dict_slot *s = &d->slots[i];
        if (!s->id1)
            continue;
        uint8_t *p = out + 12 * (size_t)(s->id1 - 1);
        weir__put_le64(p, s->lo);
        weir__put_le32(p + 8, s->hi);
    }
}
