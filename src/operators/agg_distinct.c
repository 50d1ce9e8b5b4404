/* Exact distinct counting: a CRoaring bitmap of the window's dense ids; small sets inline,
 * mid-sized ones as sorted arrays. */
#include <roaring/containers/containers.h>
#include <roaring/roaring.h>
#include <stdlib.h>
#include <string.h>

#include "operators/agg_int.h"
#include "state/bytes.h"
#include "weir/aggregate.h"

/*
 * Three tiers, by size:
 * - inline: up to SMALL ids in the state itself, deduplicated as they arrive;
 * - array: a heap buffer holding the set sorted, then a run of pending ids not yet
 *   merged (unsorted, maybe repeated). A full buffer is sorted and merged into a new
 *   one in a single pass, so an add costs a few sequential moves, never a search;
 * - bitmap: a roaring bitmap, fed from the same kind of pending buffer. Each batch is
 *   sorted first, so roaring reaches each container once per batch and appends
 *   instead of searching; a key's containers are touched once per batch, not per id.
 * A roaring container costs some 70 bytes before its first value and a window's ids
 * spread over up to 16 of them, so sets stay arrays (4 bytes an id) up to ARRAY_MAX.
 * Every merge moves what the set already holds, so the pending room is a share of the
 * set: a quarter for arrays, half for bitmaps (whose ids take 2 bytes, and whose
 * merges reach every container), up to PEND_MAX; operator-exact runs 8% fewer
 * instructions than with an eighth for both, for 0.3 bytes more per (key, user) pair.
 * The window operator mostly hands a set its ids a run at a time (weir__distinct_add_many,
 * from the log of its hot window, window.c): a run is copied into the pending room and
 * merged as single adds would be.
 *
 * Serialized form (unchanged since version 1): u8 tag (0 inline, 1 bitmap), then for
 * inline u8 n and n little-endian u32 ids (sets of at most SMALL ids), for a bitmap u32
 * length and roaring's portable format (larger sets, whatever their tier in memory).
 */
#define SMALL             WEIR__DISTINCT_SMALL
#define ARRAY_MAX         512
#define PEND_MIN          16
#define PEND_MAX          8192
#define ARRAY_PEND_SHIFT  2
#define BITMAP_PEND_SHIFT 1

/* The state and its tiers are in agg_int.h, for the window operator's inline appends. */
enum {
    TIER_INLINE = WEIR__DISTINCT_INLINE,
    TIER_ARRAY = WEIR__DISTINCT_ARRAY,
    TIER_BITMAP = WEIR__DISTINCT_BITMAP
};
typedef weir__distinct_state distinct_state;

static inline uint32_t tier_of(const distinct_state *s)
{
    return s->cap ? s->u.h.tier : TIER_INLINE;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

#define INSERTION_MAX 24

static void insertion_sort(uint32_t *v, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        uint32_t x = v[i], j = i;
        while (j > 0 && v[j - 1] > x) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* The bits in which v[0..n) differ lie in [0, *top); returns 0 when all ids are equal. */
static int varying_bits(const uint32_t *v, uint32_t n, uint32_t *top)
{
    uint32_t or_all = 0, and_all = UINT32_MAX;
    for (uint32_t i = 0; i < n; i++) {
        or_all |= v[i];
        and_all &= v[i];
    }
    uint32_t diff = or_all ^ and_all;
    *top = diff ? 32 - (uint32_t)__builtin_clz(diff) : 0;
    return diff != 0;
}

/* Sorts v[0..n) when that is quick (a handful of ids: by insertion; all equal: nothing to
 * do) and returns 1; else returns 0 with the varying bits in [0, *top). */
static int sorted_quickly(uint32_t *v, uint32_t n, uint32_t *top)
{
    if (n <= INSERTION_MAX) {
        insertion_sort(v, n);
        return 1;
    }
    return !varying_bits(v, n, top);
}

/* Bucket bits for n ids: about four ids a bucket, within [2, most] and at most `top`. */
static uint32_t bucket_bits(uint32_t n, uint32_t top, uint32_t most)
{
    uint32_t b = 30 - (uint32_t)__builtin_clz(n);
    b = b > most ? most : b < 2 ? 2 : b;
    return b > top ? top : b;
}

static void sort_with(uint32_t *v, uint32_t n, uint32_t *scratch);

/*
 * One counting pass deals v[0..n) into scratch in 2^nbits buckets, in order, by the nbits
 * bits below bit `top` (the ids agree above it), and the whole is copied back sorted.
 * When no bucket holds more than INSERTION_MAX ids (spread ids: about four a bucket), one
 * insertion sort over all of them finishes the job, each id moving only within its
 * bucket; sorting bucket by bucket cost a call and a frame per bucket, a third of the
 * sorting's instructions. Otherwise each bucket is sorted by sort_with with v's place as
 * its scratch. start has 2^nbits + 1 entries and next 2^nbits.
 */
static void bucket_sort(uint32_t *v, uint32_t n, uint32_t *scratch, uint32_t top, uint32_t nbits,
                        uint32_t *start, uint32_t *next)
{
    uint32_t shift = top - nbits, mask = (1u << nbits) - 1, biggest = 0;
    memset(start, 0, (mask + 2) * sizeof *start);
    for (uint32_t i = 0; i < n; i++)
        start[((v[i] >> shift) & mask) + 1]++;
    for (uint32_t d = 1; d <= mask + 1; d++) {
        biggest = start[d] > biggest ? start[d] : biggest;
        start[d] += start[d - 1];
    }
    memcpy(next, start, (mask + 1) * sizeof *next);
    for (uint32_t i = 0; i < n; i++)
        scratch[next[(v[i] >> shift) & mask]++] = v[i];
    if (biggest <= INSERTION_MAX) {
        insertion_sort(scratch, n);
    } else {
        for (uint32_t d = 0; d <= mask; d++)
            if (start[d + 1] - start[d] > 1)
                sort_with(scratch + start[d], start[d + 1] - start[d], v + start[d]);
    }
    memcpy(v, scratch, (size_t)n * sizeof *v);
}

/*
 * Sorts v[0..n) ascending with scratch[0..n) (clobbered). Beyond a handful of ids, one
 * counting pass on the highest bits in which the ids differ deals them into buckets in
 * order, about four ids each when spread, and each bucket is sorted the same way, which
 * for spread ids means by insertion. Crowded buckets recurse on lower bits: at most 16
 * levels, each one pass over its ids.
 */
static void sort_with(uint32_t *v, uint32_t n, uint32_t *scratch)
{
    uint32_t top, start[257], next[256];
    if (!sorted_quickly(v, n, &top))
        bucket_sort(v, n, scratch, top, bucket_bits(n, top, 8), start, next);
}

/* Sorts v[0..n) ascending: as sort_with, with up to 2^11 buckets at the first level (a
 * full pending buffer of 8192 ids spread over 2^20 then needs no second). An LSD radix
 * sort took three passes, each with a scan of 256 counters, for ids below 2^20. Buffers
 * hold at most PEND_MAX + ARRAY_MAX ids; only a bitmap renumbered for a snapshot is
 * larger. */
static void sort_ids(uint32_t *v, uint32_t n)
{
    uint32_t top;
    if (sorted_quickly(v, n, &top))
        return;
    uint32_t local[PEND_MAX + ARRAY_MAX], start[2049], next[2048];
    uint32_t *tmp = n <= PEND_MAX + ARRAY_MAX ? local : malloc((size_t)n * sizeof *tmp);
    if (!tmp) {
        qsort(v, n, sizeof *v, cmp_u32);
        return;
    }
    bucket_sort(v, n, tmp, top, bucket_bits(n, top, 11), start, next);
    if (tmp != local)
        free(tmp);
}

/* Sorts and deduplicates v[0..n); returns the number of distinct ids. */
static uint32_t sort_unique(uint32_t *v, uint32_t n)
{
    if (!n)
        return 0;
    sort_ids(v, n);
    uint32_t k = 1;
    for (uint32_t i = 1; i < n; i++)
        if (v[i] != v[k - 1])
            v[k++] = v[i];
    return k;
}

/* Room for pending ids beside a set of `size`: size >> shift, within PEND_MIN..PEND_MAX. */
static uint32_t pend_room(uint64_t size, unsigned shift)
{
    uint64_t r = size >> shift;
    return r < PEND_MIN ? PEND_MIN : r > PEND_MAX ? PEND_MAX : (uint32_t)r;
}

/* The union of sorted id runs a (na) and b (nb) into m, which has room for both; returns
 * its length. */
static uint32_t merge_union(const uint32_t *a, uint32_t na, const uint32_t *b, uint32_t nb,
                            uint32_t *m)
{
    uint32_t i = 0, j = 0, k = 0;
    while (i < na && j < nb)
        m[k++] = a[i] < b[j] ? a[i++] : a[i] > b[j] ? b[j++] : (j++, a[i++]);
    while (i < na)
        m[k++] = a[i++];
    while (j < nb)
        m[k++] = b[j++];
    return k;
}

/* Makes s a bitmap-tier set owning bm (NULL: no memory) with room for `room` pending ids
 * and none yet; what s held before is the caller's to read or free. Returns WEIR_OK, or
 * WEIR_ERR_NOMEM with bm freed and s unchanged. */
static weir_err adopt_bitmap(distinct_state *s, roaring_bitmap_t *bm, uint32_t room)
{
    uint32_t *pend = bm ? malloc((size_t)room * sizeof *pend) : NULL;
    if (!pend) {
        roaring_bitmap_free(bm);
        return WEIR_ERR_NOMEM;
    }
    s->u.h.tier = TIER_BITMAP;
    s->u.h.bm = bm;
    s->u.h.buf = pend;
    s->cap = room;
    s->n = 0;
    s->u.h.np = 0;
    return WEIR_OK;
}

static int bitmap_add_sorted(roaring_bitmap_t *bm, const uint32_t *v, uint32_t n);

/* Array tier: merges the pending ids into the sorted ones, in a new buffer with room for
 * the next pending run; moves to a bitmap past ARRAY_MAX. Returns 0, or -1 (no memory,
 * nothing changed). */
static int array_merge(distinct_state *s)
{
    uint32_t *old = s->u.h.buf;
    uint32_t np = sort_unique(old + s->n, s->u.h.np);
    s->u.h.np = np; /* same set; a failure below leaves it valid */
    const uint32_t *a = old, *b = old + s->n;
    uint32_t na = s->n;
    /* At most na + np ids come out. */
    uint32_t most = na + np;
    if (most > ARRAY_MAX) {
        /* Merging into a bitmap, built container by container from the sorted ids
         * (roaring_bitmap_add_many took some 90 instructions an id). */
        uint32_t *m = malloc((size_t)most * sizeof *m);
        if (!m)
            return -1;
        uint32_t k = merge_union(a, na, b, np, m);
        roaring_bitmap_t *bm = roaring_bitmap_create();
        int added = bm && bitmap_add_sorted(bm, m, k) == 0;
        free(m);
        if (!added) {
            if (bm)
                roaring_bitmap_free(bm);
            return -1;
        }
        if (adopt_bitmap(s, bm, pend_room(k, BITMAP_PEND_SHIFT)) != WEIR_OK)
            return -1;
        free(old);
        return 0;
    }
    uint32_t cap = most + pend_room(most, ARRAY_PEND_SHIFT);
    uint32_t *m = malloc((size_t)cap * sizeof *m);
    if (!m)
        return -1;
    uint32_t k = merge_union(a, na, b, np, m);
    /* Pending ids the set held already made `most` too many: room for the set it is
     * (a shrinking realloc stays in place). */
    uint32_t want = k + pend_room(k, ARRAY_PEND_SHIFT);
    uint32_t *fit = want < cap ? realloc(m, (size_t)want * sizeof *m) : NULL;
    if (fit) {
        m = fit;
        cap = want;
    }
    free(old);
    s->u.h.buf = m;
    s->cap = cap;
    s->n = k;
    s->u.h.np = 0;
    return 0;
}

/* Merges sorted distinct 16-bit values b[0..nb) (the low halves of ids) into an array
 * container with room for them all, from the end, so each value moves once; returns the
 * new cardinality. */
static int32_t array_merge_in(array_container_t *ac, const uint32_t *b, int32_t nb)
{
    uint16_t *a = ac->array;
    int32_t ia = ac->cardinality - 1, ib = nb - 1, out = ac->cardinality + nb;
    while (ib >= 0) {
        uint16_t x = (uint16_t)b[ib];
        if (ia >= 0 && a[ia] >= x) {
            if (a[ia] == x)
                ib--; /* already there */
            else
                a[--out] = a[ia--];
            continue;
        }
        a[--out] = x;
        ib--;
    }
    /* a[0..ia] stayed in place; a value found already there left a gap before `out`. */
    int32_t tail = ac->cardinality + nb - out;
    if (out != ia + 1)
        memmove(a + ia + 1, a + out, (size_t)tail * sizeof *a);
    return ia + 1 + tail;
}

/*
 * Adds sorted distinct ids v[0..n) to bm container by container: a group joins an array
 * container in one merge from its end, sets bits of a bitset container, or becomes a new
 * array container. roaring_bitmap_add_many would search and move per value, and a batch
 * built as a bitmap of its own and or-ed in allocates a container per group; this does
 * neither. A group that would take an array container past roaring's array limit turns
 * it into a bitset first (or makes a new bitset): through roaring_bitmap_add_many, such
 * groups were 5% of operator-exact's instructions, each value searched for and moved
 * into an array of thousands before the conversion. Run containers (never made here) go
 * through roaring_bitmap_add_many. Returns 0, or -1 when out of memory with some groups
 * added (adding the rest again later is harmless).
 */
static int bitmap_add_sorted(roaring_bitmap_t *bm, const uint32_t *v, uint32_t n)
{
    roaring_array_t *ra = &bm->high_low_container;
    uint32_t i = 0;
    while (i < n) {
        uint16_t hb = (uint16_t)(v[i] >> 16);
        uint32_t j = i + 1;
        while (j < n && (uint16_t)(v[j] >> 16) == hb)
            j++;
        int32_t g = (int32_t)(j - i);
        int32_t at = ra_get_index(ra, hb);
        uint8_t type = at >= 0 ? ra->typecodes[at] : 0;
        if (at < 0 && g <= DEFAULT_MAX_SIZE) {
            array_container_t *ac = array_container_create_given_capacity(g);
            if (!ac)
                return -1;
            for (int32_t k = 0; k < g; k++)
                ac->array[k] = (uint16_t)v[i + k];
            ac->cardinality = g;
            ra_insert_new_key_value_at(ra, -at - 1, hb, ac, ARRAY_CONTAINER_TYPE_CODE);
        } else if (type == ARRAY_CONTAINER_TYPE_CODE &&
                   ((array_container_t *)ra->containers[at])->cardinality + g <= DEFAULT_MAX_SIZE) {
            array_container_t *ac = ra->containers[at];
            if (ac->capacity < ac->cardinality + g) {
                array_container_grow(ac, ac->cardinality + g, true);
                if (!ac->array)
                    return -1;
            }
            ac->cardinality = array_merge_in(ac, v + i, g);
        } else if (type == BITSET_CONTAINER_TYPE_CODE || type == ARRAY_CONTAINER_TYPE_CODE ||
                   at < 0) {
            /* past the array limit, or a bitset already */
            bitset_container_t *bc = at >= 0 ? ra->containers[at] : NULL;
            if (type != BITSET_CONTAINER_TYPE_CODE) {
                bc = at >= 0 ? bitset_container_from_array(ra->containers[at])
                             : bitset_container_create();
                if (!bc)
                    return -1;
                if (at >= 0) {
                    array_container_free(ra->containers[at]);
                    ra_set_container_at_index(ra, at, bc, BITSET_CONTAINER_TYPE_CODE);
                } else {
                    ra_insert_new_key_value_at(ra, -at - 1, hb, bc, BITSET_CONTAINER_TYPE_CODE);
                }
            }
            for (uint32_t k = i; k < j; k++)
                bitset_container_set(bc, (uint16_t)v[k]);
        } else {
            roaring_bitmap_add_many(bm, (size_t)g, v + i);
        }
        i = j;
    }
    return 0;
}

/* Sets the pending ids that fall in bitset containers (up to id 2^22), which needs no
 * order, and keeps the others, in their order; returns how many are kept. */
#define DIRECT_CONTAINERS 64

static uint32_t set_in_bitsets(roaring_bitmap_t *bm, uint32_t *v, uint32_t n)
{
    const roaring_array_t *ra = &bm->high_low_container;
    bitset_container_t *direct[DIRECT_CONTAINERS] = {0};
    int any = 0;
    for (int32_t i = 0; i < ra->size; i++)
        if (ra->typecodes[i] == BITSET_CONTAINER_TYPE_CODE && ra->keys[i] < DIRECT_CONTAINERS) {
            direct[ra->keys[i]] = ra->containers[i];
            any = 1;
        }
    if (!any)
        return n;
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id = v[i], hb = id >> 16;
        bitset_container_t *bc = hb < DIRECT_CONTAINERS ? direct[hb] : NULL;
        if (bc)
            bitset_container_set(bc, (uint16_t)id);
        else
            v[k++] = id;
    }
    return k;
}

/* Bitmap tier: adds the pending ids, sorted, and resizes the pending buffer to the set.
 * Returns 0, or -1 when out of memory (the ids stay pending, sorted and distinct). */
static int bitmap_flush(distinct_state *s)
{
    if (!s->u.h.np)
        return 0;
    /* Bitsets take their ids in any order: only the rest is sorted (a set's largest
     * containers become bitsets first, so this is most of a large set's ids). */
    s->u.h.np = set_in_bitsets(s->u.h.bm, s->u.h.buf, s->u.h.np);
    uint32_t np = sort_unique(s->u.h.buf, s->u.h.np);
    s->u.h.np = np;
    if (bitmap_add_sorted(s->u.h.bm, s->u.h.buf, np) != 0)
        return -1;
    s->u.h.np = 0;
    uint32_t room = pend_room(roaring_bitmap_get_cardinality(s->u.h.bm), BITMAP_PEND_SHIFT);
    if (room > s->cap) {
        uint32_t *p = malloc((size_t)room * sizeof *p);
        if (p) {
            free(s->u.h.buf);
            s->u.h.buf = p;
            s->cap = room;
        }
    }
    return 0;
}

/* Brings every id into the sorted set or the bitmap. */
static int settle(distinct_state *s)
{
    if (tier_of(s) == TIER_ARRAY && s->u.h.np)
        return array_merge(s);
    if (tier_of(s) == TIER_BITMAP)
        return bitmap_flush(s);
    return 0;
}

static void d_init(void *state, const void *params)
{
    (void)params;
    memset(state, 0, sizeof(distinct_state));
}

/* Appends v[0..n) to the pending run of a set in the array or bitmap tier, merging it
 * each time it fills (n is 0 in the bitmap tier, so `n + np` is what the buffer holds in
 * either). Returns WEIR_OK, or WEIR_ERR_NOMEM with some ids appended. */
static weir_err append_pending(distinct_state *s, const uint32_t *v, uint32_t n)
{
    for (uint32_t i = 0; i < n;) {
        uint32_t used = s->n + s->u.h.np, k = s->cap - used;
        if (!k) {
            if (settle(s) != 0)
                return WEIR_ERR_NOMEM;
            continue;
        }
        k = k < n - i ? k : n - i;
        memcpy(s->u.h.buf + used, v + i, (size_t)k * sizeof *v);
        s->u.h.np += k;
        i += k;
    }
    return WEIR_OK;
}

static weir_err d_add(void *state, const weir_agg_input *in, const void *params)
{
    (void)params;
    distinct_state *s = state;
    uint32_t id = in->dense_id;
    if (tier_of(s) == TIER_INLINE) {
        for (uint32_t i = 0; i < s->n; i++)
            if (s->u.ids[i] == id)
                return WEIR_OK;
        if (s->n < SMALL) {
            s->u.ids[s->n++] = id;
            return WEIR_OK;
        }
        uint32_t cap = SMALL + pend_room(SMALL, ARRAY_PEND_SHIFT);
        uint32_t *buf = malloc((size_t)cap * sizeof *buf);
        if (!buf)
            return WEIR_ERR_NOMEM;
        memcpy(buf, s->u.ids, sizeof s->u.ids);
        sort_ids(buf, SMALL);
        s->u.h.buf = buf;
        s->u.h.bm = NULL;
        s->cap = cap;
        s->u.h.np = 0;
        s->u.h.tier = TIER_ARRAY;
    }
    return append_pending(s, &id, 1);
}

weir_err weir__distinct_add_many(void *state, const uint32_t *v, uint32_t n)
{
    distinct_state *s = state;
    uint32_t i = 0;
    for (; i < n && tier_of(s) == TIER_INLINE; i++) {
        weir_agg_input in = {NULL, v[i]};
        if (d_add(s, &in, NULL) != WEIR_OK)
            return WEIR_ERR_NOMEM;
    }
    return append_pending(s, v + i, n - i);
}

/* The ids a state holds outside a bitmap (all of them below the bitmap tier), in no
 * particular order and maybe repeated; *k gets how many. */
static const uint32_t *loose_ids(const distinct_state *s, uint32_t *k)
{
    switch (tier_of(s)) {
    case TIER_INLINE: *k = s->n; return s->u.ids;
    case TIER_ARRAY: *k = s->n + s->u.h.np; return s->u.h.buf;
    default: *k = s->u.h.np; return s->u.h.buf;
    }
}

/* Every id of a (settled or not) state, in no particular order, into bm. */
static void add_all(roaring_bitmap_t *bm, const distinct_state *s)
{
    uint32_t k;
    const uint32_t *ids = loose_ids(s, &k);
    if (tier_of(s) == TIER_BITMAP)
        roaring_bitmap_or_inplace(bm, s->u.h.bm);
    roaring_bitmap_add_many(bm, k, ids);
}

static weir_err d_merge(void *dst, const void *src, const void *params)
{
    (void)params;
    distinct_state *d = dst;
    const distinct_state *s = src;
    /* Both sets must come from the same dictionary for ids to mean the same values.
     * Merges are rare: the result is always a bitmap. */
    if (tier_of(d) != TIER_BITMAP) {
        uint32_t *old = tier_of(d) == TIER_ARRAY ? d->u.h.buf : NULL;
        roaring_bitmap_t *bm = roaring_bitmap_create();
        if (bm)
            add_all(bm, d);
        if (adopt_bitmap(d, bm, PEND_MIN) != WEIR_OK)
            return WEIR_ERR_NOMEM;
        free(old);
    }
    bitmap_flush(d);
    add_all(d->u.h.bm, s);
    return WEIR_OK;
}

static uint64_t d_result(void *state, const void *params)
{
    (void)params;
    distinct_state *s = state;
    if (tier_of(s) == TIER_ARRAY && s->u.h.np) {
        /* Counted without a merge: the pending ids sorted and deduplicated where they are
         * (still a valid pending run), less those the sorted ids hold too. A window is
         * most often freed right after it fires, and merging into a new buffer only to
         * count was a third of the firings' instructions. */
        const uint32_t *a = s->u.h.buf, *b = a + s->n;
        uint32_t np = sort_unique(s->u.h.buf + s->n, s->u.h.np), i = 0, j = 0, both = 0;
        s->u.h.np = np;
        while (i < s->n && j < np) {
            both += a[i] == b[j];
            uint32_t x = a[i], y = b[j];
            i += x <= y;
            j += y <= x;
        }
        return (uint64_t)s->n + np - both;
    }
    /* A failed merge (no memory) leaves the ids pending: count them exactly anyway. */
    if (settle(s) != 0) {
        roaring_bitmap_t *bm = roaring_bitmap_create();
        if (!bm)
            return 0;
        add_all(bm, s);
        uint64_t c = roaring_bitmap_get_cardinality(bm);
        roaring_bitmap_free(bm);
        return c;
    }
    if (tier_of(s) == TIER_BITMAP)
        return roaring_bitmap_get_cardinality(s->u.h.bm);
    return s->n;
}

/* The set as a bitmap for serializing: the state's own, or a new one (*owned). */
static roaring_bitmap_t *as_bitmap(distinct_state *s, int *owned)
{
    settle(s);
    *owned = tier_of(s) != TIER_BITMAP;
    if (!*owned)
        return s->u.h.bm;
    roaring_bitmap_t *bm = roaring_bitmap_create();
    if (bm)
        add_all(bm, s);
    return bm;
}

static size_t d_size(const void *state, const void *params)
{
    (void)params;
    /* Pending ids are part of the set: they are merged first, which changes the
     * representation, not the meaning, of the state. */
    distinct_state *s = (distinct_state *)state;
    uint64_t n = d_result(s, params);
    if (n <= SMALL)
        return 2 + 4 * (size_t)n;
    int owned;
    roaring_bitmap_t *bm = as_bitmap(s, &owned);
    size_t len = bm ? 5 + roaring_bitmap_portable_size_in_bytes(bm) : 5;
    if (owned)
        roaring_bitmap_free(bm);
    return len;
}

static size_t d_serialize(const void *state, uint8_t *out, const void *params)
{
    (void)params;
    distinct_state *s = (distinct_state *)state;
    uint64_t n = d_result(s, params);
    if (n <= SMALL) {
        uint32_t v[SMALL];
        if (tier_of(s) == TIER_INLINE)
            memcpy(v, s->u.ids, sizeof v);
        else if (tier_of(s) == TIER_ARRAY)
            memcpy(v, s->u.h.buf, (size_t)n * sizeof *v);
        else
            roaring_bitmap_to_uint32_array(s->u.h.bm, v);
        out[0] = 0;
        out[1] = (uint8_t)n;
        for (uint32_t i = 0; i < n; i++)
            weir__put_le32(out + 2 + 4 * i, v[i]);
        return 2 + 4 * (size_t)n;
    }
    int owned;
    roaring_bitmap_t *bm = as_bitmap(s, &owned);
    size_t len = bm ? roaring_bitmap_portable_serialize(bm, (char *)out + 5) : 0;
    if (owned)
        roaring_bitmap_free(bm);
    out[0] = 1;
    weir__put_le32(out + 1, (uint32_t)len);
    return 5 + len;
}

/* Walks a bitmap's values: they must rise strictly, as many as its cardinality says. */
typedef struct walk {
    uint64_t n;
    uint32_t last;
} walk;

static bool walk_one(uint32_t v, void *opaque)
{
    walk *w = opaque;
    if (w->n && v <= w->last)
        return false;
    w->last = v;
    w->n++;
    return true;
}

/* CRoaring's safe deserializer checks bounds but not its containers' invariants (0.2.66 has
 * no validator): an array container's values may come in any order, and its minimum and
 * maximum, read at its ends, then misstate them; a snapshot could thus hold ids beyond its
 * dictionary that the restore's check does not see. */
static int bitmap_well_formed(const roaring_bitmap_t *bm)
{
    walk w = {0, 0};
    return roaring_iterate(bm, walk_one, &w) && w.n == roaring_bitmap_get_cardinality(bm);
}

static weir_err d_deserialize(void *state, const uint8_t *in, size_t len, const void *params)
{
    (void)params;
    distinct_state *s = state;
    memset(s, 0, sizeof *s);
    if (len < 2)
        return WEIR_ERR_CORRUPT;
    if (in[0] == 0) {
        uint32_t n = in[1];
        if (n > SMALL || len != 2 + 4 * (size_t)n)
            return WEIR_ERR_CORRUPT;
        for (uint32_t i = 0; i < n; i++) {
            s->u.ids[i] = weir__get_le32(in + 2 + 4 * i);
            for (uint32_t j = 0; j < i; j++)
                if (s->u.ids[j] == s->u.ids[i]) {
                    memset(s, 0, sizeof *s);
                    return WEIR_ERR_CORRUPT;
                }
        }
        s->n = n;
        return WEIR_OK;
    }
    if (in[0] != 1 || len < 5)
        return WEIR_ERR_CORRUPT;
    uint32_t blen = weir__get_le32(in + 1);
    if (blen != len - 5)
        return WEIR_ERR_CORRUPT;
    roaring_bitmap_t *bm = roaring_bitmap_portable_deserialize_safe((const char *)in + 5, blen);
    if (!bm)
        return WEIR_ERR_CORRUPT;
    if (roaring_bitmap_portable_size_in_bytes(bm) != blen || !bitmap_well_formed(bm)) {
        roaring_bitmap_free(bm);
        return WEIR_ERR_CORRUPT;
    }
    return adopt_bitmap(s, bm, pend_room(roaring_bitmap_get_cardinality(bm), BITMAP_PEND_SHIFT));
}

static void d_free(void *state, const void *params)
{
    (void)params;
    distinct_state *s = state;
    if (tier_of(s) != TIER_INLINE) {
        free(s->u.h.buf);
        if (s->u.h.bm)
            roaring_bitmap_free(s->u.h.bm);
    }
    memset(s, 0, sizeof *s);
}

/* glibc's malloc adds about this much to every allocation (header and rounding). */
#define MALLOC_OVERHEAD 16

static size_t d_heap(const void *state, const void *params)
{
    (void)params;
    const distinct_state *s = state;
    if (tier_of(s) == TIER_INLINE)
        return 0;
    size_t bytes = (size_t)s->cap * sizeof(uint32_t) + MALLOC_OVERHEAD;
    if (tier_of(s) == TIER_ARRAY)
        return bytes;
    /* Walk the containers: the bitmap's arrays (key, pointer, type per slot) and each
     * container's struct and payload, as CRoaring 0.2 lays them out. */
    const roaring_array_t *ra = &s->u.h.bm->high_low_container;
    bytes += sizeof(roaring_bitmap_t) + MALLOC_OVERHEAD +
             (size_t)ra->allocation_size * (sizeof(void *) + sizeof(uint16_t) + 1) +
             MALLOC_OVERHEAD;
    for (int32_t i = 0; i < ra->size; i++) {
        const void *c = ra->containers[i];
        switch (ra->typecodes[i]) {
        case ARRAY_CONTAINER_TYPE_CODE:
            bytes += sizeof(array_container_t) +
                     (size_t)((const array_container_t *)c)->capacity * sizeof(uint16_t);
            break;
        case RUN_CONTAINER_TYPE_CODE:
            bytes += sizeof(run_container_t) +
                     (size_t)((const run_container_t *)c)->capacity * sizeof(rle16_t);
            break;
        default: /* bitset, or shared (not made here) */
            bytes += sizeof(bitset_container_t) + 8192;
            break;
        }
        bytes += 2 * MALLOC_OVERHEAD;
    }
    return bytes;
}

static weir_err d_renumber(void *dst, const void *src, const uint32_t *map, uint32_t n_map,
                           const void *params)
{
    (void)params;
    distinct_state *d = dst;
    const distinct_state *s = src;
    uint32_t k;
    const uint32_t *ids = loose_ids(s, &k);
    const roaring_bitmap_t *bm = tier_of(s) == TIER_BITMAP ? s->u.h.bm : NULL;
    if (!map) { /* only the check */
        for (uint32_t i = 0; i < k; i++)
            if (ids[i] >= n_map)
                return WEIR_ERR_CORRUPT;
        if (bm && !roaring_bitmap_is_empty(bm) && roaring_bitmap_maximum(bm) >= n_map)
            return WEIR_ERR_CORRUPT;
        return WEIR_OK;
    }
    uint32_t nb = bm ? (uint32_t)roaring_bitmap_get_cardinality(bm) : 0, n = nb + k;
    uint32_t *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    if (!v)
        return WEIR_ERR_NOMEM;
    if (bm)
        roaring_bitmap_to_uint32_array(bm, v);
    memcpy(v + nb, ids, (size_t)k * sizeof *v);
    for (uint32_t i = 0; i < n; i++) {
        if (v[i] >= n_map) {
            free(v);
            return WEIR_ERR_CORRUPT;
        }
        v[i] = map[v[i]];
    }
    n = sort_unique(v, n);
    memset(d, 0, sizeof *d);
    if (n <= SMALL) {
        memcpy(d->u.ids, v, (size_t)n * sizeof *v);
        d->n = n;
        free(v);
        return WEIR_OK;
    }
    /* The copy is made to be written: a bitmap, which is what serialize writes. */
    roaring_bitmap_t *copy = roaring_bitmap_of_ptr(n, v);
    free(v);
    return adopt_bitmap(d, copy, PEND_MIN);
}

const weir_agg_ops weir_agg_distinct_exact = {
    .name = "distinct_exact",
    .state_size = sizeof(distinct_state),
    .flags = WEIR_AGG_NEEDS_DENSE_ID,
    .init = d_init,
    .add = d_add,
    .merge = d_merge,
    .result = d_result,
    .serialized_size = d_size,
    .serialize = d_serialize,
    .deserialize = d_deserialize,
    .free = d_free,
    .heap_bytes = d_heap,
    .renumber = d_renumber,
};
