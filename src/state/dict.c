/* A window's dictionary of distinct values: growth (the hot path is inline in dict.h). */
#include "state/dict.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Large tables are probed at random, one slot per record: with 4 KiB pages nearly every
 * probe also misses the TLB. Asking for transparent huge pages removes most of those. */
#define HUGE_BYTES (2u << 20)

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

int weir__dict_init(weir__dict *d, uint32_t capacity_pow2)
{
    d->slots = alloc_slots(capacity_pow2);
    if (!d->slots)
        return -1;
    d->mask = capacity_pow2 - 1;
    d->count = 0;
    return 0;
}

void weir__dict_free(weir__dict *d)
{
    free(d->slots);
    d->slots = NULL;
    d->mask = 0;
    d->count = 0;
}

int weir__dict_grow(weir__dict *d)
{
    uint32_t cap = (d->mask + 1) * 2;
    if (cap == 0)
        return -1;
    weir__dict_slot *slots = alloc_slots(cap);
    if (!slots)
        return -1;
    uint32_t mask = cap - 1;
    for (uint32_t i = 0; i <= d->mask; i++) {
        weir__dict_slot s = d->slots[i];
        if (!s.id1)
            continue;
        uint32_t j = s.hi & mask;
        while (slots[j].id1)
            j = (j + 1) & mask;
        slots[j] = s;
    }
    free(d->slots);
    d->slots = slots;
    d->mask = mask;
    return 0;
}
