/* A window's dictionary of distinct values: growth (the hot path is inline in dict.h). */
#include "state/dict.h"

#include <stdlib.h>

int weir__dict_init(weir__dict *d, uint32_t capacity_pow2)
{
    d->slots = calloc(capacity_pow2, sizeof(weir__dict_slot));
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
    weir__dict_slot *slots = calloc(cap, sizeof(weir__dict_slot));
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
