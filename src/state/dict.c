/* A window's dictionary of distinct values: sizing, growth, export (the hot path is inline
 * in dict.h). */
#include "state/dict.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "state/bytes.h"

/* Large tables are probed at random, one slot per record: with 4 KiB pages nearly every
 * probe also misses the TLB. Asking for transparent huge pages removes most of those.
 * They are mapped directly rather than malloc'ed: a table given up when the dictionary
 * grows then goes back to the system at once (malloc kept freed tables resident, as much
 * again as the live one), and fresh pages come zeroed. */
#define HUGE_BYTES (2u << 20)
#define MIN_CAP    64u
#define MAX_CAP    (7u << 28)
#define OVF_MIN    16u

static weir__dict_slot *alloc_slots(uint32_t n)
{
    size_t bytes = (size_t)n * sizeof(weir__dict_slot);
    if (bytes < HUGE_BYTES)
        return calloc(n, sizeof(weir__dict_slot));
    /* Map a huge page more than needed, then unmap the parts outside the aligned range. */
    size_t span = bytes + HUGE_BYTES;
    char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    char *p = (char *)(((uintptr_t)raw + HUGE_BYTES - 1) & ~(uintptr_t)(HUGE_BYTES - 1));
    if (p > raw)
        munmap(raw, (size_t)(p - raw));
    size_t tail = (size_t)(raw + span - (p + bytes));
    if (tail)
        munmap(p + bytes, tail);
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE);
#endif
    return (weir__dict_slot *)p;
}

static void free_slots(weir__dict_slot *slots, uint32_t n)
{
    size_t bytes = (size_t)n * sizeof(weir__dict_slot);
    if (!slots)
        return;
    if (bytes < HUGE_BYTES)
        free(slots);
    else
        munmap(slots, bytes);
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

/* Bits needed to write v (0 for 0). */
static uint32_t bit_length(uint64_t v)
{
    return v ? 64 - (uint32_t)__builtin_clzll(v) : 0;
}

/* The count at which a table of `cap` slots grows: a load of 4/5 (dict.h). */
static uint32_t full_at(uint32_t cap)
{
    return (uint32_t)((uint64_t)cap * 4 / 5);
}

int weir__dict_init(weir__dict *d, uint32_t expected)
{
    uint32_t cap = MIN_CAP;
    while (cap < MAX_CAP && (uint64_t)cap * 4 < (uint64_t)expected * 5)
        cap = next_cap(cap);
    d->slots = alloc_slots(cap + OVF_MIN);
    if (!d->slots)
        return -1;
    d->cap = cap;
    d->ovf = OVF_MIN;
    d->count = 0;
    d->idbits = bit_length(cap);
    d->full = full_at(cap);
    return 0;
}

void weir__dict_free(weir__dict *d)
{
    free_slots(d->slots, weir__dict_len(d));
    d->slots = NULL;
    d->cap = 0;
    d->ovf = 0;
    d->count = 0;
    d->idbits = 0;
    d->full = 0;
}

/* Doubles the slots past the last home (OVF_MIN or more); 0, or -1 when out of memory (d
 * unchanged). A run reaches past the last home only when homes near the end are crowded,
 * so this is rare, and the copy is of no matter. */
static int widen(weir__dict *d)
{
    uint32_t ovf = d->ovf * 2;
    if ((uint64_t)d->cap + ovf > MAX_CAP + (uint64_t)MAX_CAP / 4)
        return -1;
    weir__dict_slot *slots = alloc_slots(d->cap + ovf);
    if (!slots)
        return -1;
    memcpy(slots, d->slots, (size_t)weir__dict_len(d) * sizeof *slots);
    free_slots(d->slots, weir__dict_len(d));
    d->slots = slots;
    d->ovf = ovf;
    return 0;
}

uint32_t weir__dict_insert_at(weir__dict *d, uint32_t at, uint64_t fp_lo, uint32_t tag)
{
    /* The run from `at` ends at the first empty slot, which the table may need to be
     * widened for; the run then moves up one slot in one copy. */
    uint32_t end = at;
    while (end < weir__dict_len(d) && d->slots[end].tag)
        end++;
    if (end == weir__dict_len(d) && widen(d) != 0)
        return UINT32_MAX;
    memmove(&d->slots[at + 1], &d->slots[at], (size_t)(end - at) * sizeof *d->slots);
    return weir__dict_put(d, &d->slots[at], fp_lo, tag);
}

/*
 * The table holds its values in the order of their low 64 bits (intern inserts a value
 * before the first larger one of its run), and a home is the top of those bits scaled to
 * the capacity, for every capacity: growing is one pass in that order that puts each
 * value at its new home, or just after the value before it when that one reaches past
 * it. No value is ever behind the run being filled and no run wraps (a run may end past
 * the last home, in the slots after it), so the pass has no branch on the values: an
 * empty slot is copied to where the next value goes, which that value overwrites. Past a
 * power of two the ids take one more bit from the fingerprint: keeping the tag's id bits
 * and dropping the fingerprint's lowest bits is one mask. With values kept in order of
 * their homes only approximately (probing from the home to the end of the run), a sixth
 * of the values landed behind the run and had to be probed for, and growing from empty
 * to a million values took 65-72 ms.
 */
int weir__dict_grow(weir__dict *d)
{
    if (d->cap >= MAX_CAP)
        return -1;
    uint32_t cap = next_cap(d->cap);
    uint32_t idbits = bit_length(cap) > d->idbits ? bit_length(cap) : d->idbits;
    /* tag = f << old idbits | id + 1; the new one is (f >> shift) << idbits | id + 1, the
     * same bits with the lowest `shift` of f cleared */
    uint32_t shift = idbits - d->idbits, keep = ~(((1u << shift) - 1) << d->idbits);
    /* The values reach past the last home by no more in the larger table (homes move
     * apart); a value that would land in the last slot anyway makes room and starts over. */
    for (uint32_t ovf = d->ovf;; ovf *= 2) {
        weir__dict nd = {alloc_slots(cap + ovf), cap, d->count, idbits, full_at(cap), ovf};
        if (!nd.slots)
            return -1;
        const uint32_t last = cap + ovf - 1, n = weir__dict_len(d);
        const weir__dict_slot *old = d->slots;
        uint32_t next = 0, over = 0;
        for (uint32_t i = 0; i < n; i++) {
            weir__dict_slot s = old[i];
            uint32_t h = weir__dict_home(&nd, weir__dict_slot_lo(&s));
            uint32_t pos = h > next ? h : next;
            pos = pos < last ? pos : last;
            s.tag &= keep;
            nd.slots[pos] = s;
            uint32_t filled = s.tag != 0;
            over |= filled & (pos == last);
            next = filled ? pos + 1 : next;
        }
        nd.slots[last] = (weir__dict_slot){{0, 0}, 0};
        if (!over) {
            free_slots(d->slots, n);
            *d = nd;
            return 0;
        }
        free_slots(nd.slots, cap + ovf);
    }
}

/* A little-endian bit stream: bits fill each byte from its lowest bit. */
typedef struct bitw {
    uint8_t *p;
    uint64_t acc;
    uint32_t nacc; /* bits in acc, below 8 between calls */
} bitw;

/* Appends the low n bits of v (n <= 32). */
static inline void bw_put(bitw *w, uint64_t v, uint32_t n)
{
    w->acc |= (v & (((uint64_t)1 << n) - 1)) << w->nacc;
    w->nacc += n;
    while (w->nacc >= 8) {
        *w->p++ = (uint8_t)w->acc;
        w->acc >>= 8;
        w->nacc -= 8;
    }
}

static inline void bw_put64(bitw *w, uint64_t v, uint32_t n)
{
    if (n > 32) {
        bw_put(w, v, 32);
        bw_put(w, v >> 32, n - 32);
    } else {
        bw_put(w, v, n);
    }
}

/* Ends the stream at a byte boundary, the rest of the last byte zero. */
static inline void bw_end(bitw *w)
{
    if (w->nacc)
        *w->p++ = (uint8_t)w->acc;
    w->acc = 0;
    w->nacc = 0;
}

typedef struct bitr {
    const uint8_t *p, *end;
    uint64_t acc;
    uint32_t nacc;
    int bad; /* read past the end */
} bitr;

/* The next n bits (n <= 32); 0 and bad set past the end. */
static inline uint64_t br_get(bitr *r, uint32_t n)
{
    while (r->nacc < n) {
        if (r->p == r->end) {
            r->bad = 1;
            return 0;
        }
        r->acc |= (uint64_t)*r->p++ << r->nacc;
        r->nacc += 8;
    }
    uint64_t v = r->acc & (((uint64_t)1 << n) - 1);
    r->acc >>= n;
    r->nacc -= n;
    return v;
}

static inline uint64_t br_get64(bitr *r, uint32_t n)
{
    if (n <= 32)
        return br_get(r, n);
    uint64_t v = br_get(r, 32);
    return v | br_get(r, n - 32) << 32;
}

/* Sorts slots v[0..n) by their low 64 bits: LSD radix, 11 bits a pass. */
static int sort_by_lo(weir__dict_slot *v, uint32_t n)
{
    weir__dict_slot *tmp = malloc((size_t)(n ? n : 1) * sizeof *tmp);
    if (!tmp)
        return -1;
    weir__dict_slot *src = v, *dst = tmp;
    for (uint32_t shift = 0; shift < 64; shift += 11) {
        uint32_t cnt[2048] = {0};
        for (uint32_t i = 0; i < n; i++)
            cnt[(weir__dict_slot_lo(&src[i]) >> shift) & 2047]++;
        uint32_t sum = 0;
        for (uint32_t b = 0; b < 2048; b++) {
            uint32_t c = cnt[b];
            cnt[b] = sum;
            sum += c;
        }
        for (uint32_t i = 0; i < n; i++)
            dst[cnt[(weir__dict_slot_lo(&src[i]) >> shift) & 2047]++] = src[i];
        weir__dict_slot *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, (size_t)n * sizeof *v);
    free(tmp);
    return 0;
}

/* The low bits an Elias-Fano sequence of n 64-bit values keeps verbatim. */
static uint32_t ef_low_bits(uint32_t n)
{
    return n ? 64 - bit_length(n) : 0;
}

int weir__dict_encode(const weir__dict *d, uint8_t **out, size_t *out_len, uint32_t *map)
{
    uint32_t n = d->count, idbits = d->idbits ? d->idbits : 1;
    uint32_t low = ef_low_bits(n), tagbits = 32 - idbits;
    weir__dict_slot *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    if (!v)
        return -1;
    uint32_t k = 0;
    for (uint32_t i = 0; i < weir__dict_len(d) && k < n; i++)
        if (d->slots[i].tag)
            v[k++] = d->slots[i];
    /* Upper parts: n ones and at most 2^(64 - low) zeros, under 3n bits. */
    uint64_t upper_bits = n ? n + ((uint64_t)1 << (64 - low)) : 0;
    size_t cap = 1 + (size_t)(upper_bits + 7) / 8 + ((size_t)n * (low + tagbits) + 7) / 8;
    uint8_t *b = malloc(cap);
    if (!b || sort_by_lo(v, n) != 0) {
        free(v);
        free(b);
        return -1;
    }
    b[0] = (uint8_t)idbits;
    bitw w = {b + 1, 0, 0};
    uint64_t prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t high = weir__dict_slot_lo(&v[i]) >> low;
        for (uint64_t gap = high - prev; gap; gap -= gap > 32 ? 32 : gap)
            bw_put(&w, 0, gap > 32 ? 32 : (uint32_t)gap);
        bw_put(&w, 1, 1);
        prev = high;
    }
    bw_end(&w);
    uint32_t idmask = (1u << idbits) - 1;
    for (uint32_t i = 0; i < n; i++) {
        bw_put64(&w, weir__dict_slot_lo(&v[i]), low);
        bw_put(&w, v[i].tag >> idbits, tagbits);
        map[(v[i].tag & idmask) - 1] = i;
    }
    bw_end(&w);
    free(v);
    *out = b;
    *out_len = (size_t)(w.p - b);
    return 0;
}

int weir__dict_decode(weir__dict *d, const uint8_t *b, size_t len, uint32_t count)
{
    weir__dict_free(d);
    if (len < 1 || b[0] < 1 || b[0] > 31 || count >= MAX_CAP)
        return -2;
    uint32_t sidbits = b[0], low = ef_low_bits(count), tagbits = 32 - sidbits;
    /* Upper parts first: find where they end, and check they are canonical. */
    bitr r = {b + 1, b + len, 0, 0, 0};
    uint64_t high_max = count ? ((uint64_t)1 << (64 - low)) - 1 : 0;
    uint64_t ones = 0, high = 0;
    while (ones < count) {
        if (br_get(&r, 1))
            ones++;
        else if (++high > high_max)
            return -2;
        if (r.bad)
            return -2;
    }
    if (r.nacc && r.acc != 0) /* padding of the last upper byte */
        return -2;
    const uint8_t *lows = r.p;
    if ((size_t)(b + len - lows) != ((size_t)count * (low + tagbits) + 7) / 8)
        return -2;
    if (weir__dict_init(d, count) != 0)
        return -1;
    if (d->idbits < sidbits)
        d->idbits = sidbits;
    bitr u = {b + 1, lows, 0, 0, 0};
    bitr l = {lows, b + len, 0, 0, 0};
    uint64_t h = 0, prev = 0;
    for (uint32_t i = 0; i < count; i++) {
        while (!br_get(&u, 1))
            h++;
        uint64_t lo = h << low | br_get64(&l, low);
        uint32_t tag = (uint32_t)br_get(&l, tagbits);
        if (i && lo < prev)
            goto corrupt;
        prev = lo;
        /* The table may have grown since it was sized; keep the tag's top bits. */
        uint32_t t = tag >> (d->idbits - sidbits);
        uint32_t id = weir__dict_intern(d, lo, (uint64_t)t << d->idbits);
        if (id == UINT32_MAX) {
            weir__dict_free(d);
            return -1;
        }
        if (id != i) /* a repeated value */
            goto corrupt;
    }
    if (l.nacc && l.acc != 0)
        goto corrupt;
    return 0;
corrupt:
    weir__dict_free(d);
    return -2;
}
