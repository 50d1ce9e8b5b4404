/* HyperLogLog sketches (include/weir/hll.h): inline and sparse lists of exact entries for
 * small sets, 6-bit packed registers for large ones, Ertl's improved estimator, folding
 * merges and a checksummed, versioned serialization format. */

/*
 * Design
 * ======
 *
 * A HyperLogLog sketch of precision p splits each 64-bit hash into an index (its top p
 * bits) and a rank rho: one plus the number of leading zeros of the remaining q = 64 - p
 * bits, so 1 <= rho <= q + 1. The sketch keeps, for each of the m = 2^p indexes, the
 * largest rank seen (a register; 0 means none). Flajolet et al. showed that the harmonic
 * mean of 2^-register estimates the number of distinct hashes with a relative standard
 * error of about 1.04 / sqrt(m).
 *
 * Representations. weir keeps millions of sketches alive at once, one per (key, window),
 * and most of them count a handful of users, so a sketch has three forms, the first two
 * exact for practical purposes:
 *
 *  - inline: up to 14 entries inside the 64-byte sketch itself (no allocation), so a
 *    sketch of 10 values costs 64 bytes in all;
 *  - sparse: an array of 4-byte entries on the heap, growing by doubling: a sorted list
 *    of distinct entries followed by pending ones, appended unsorted and possibly
 *    repeated, as in HLL++'s temporary list. When the array (or 1024 pending entries) is
 *    full, the pending entries are sorted (one counting pass on their uniform top bits,
 *    then an insertion sort that moves almost nothing), made unique and merged into the
 *    list from the back, in place; the array doubles when less than a quarter of it
 *    would be left for pending entries, so each merge is paid for by at least that many
 *    appends. While the list is empty, arrays below 128 entries just double: small
 *    sketches sort once (settle() has the details);
 *  - dense: m registers of 6 bits packed four to three bytes (3m/4 bytes: 12 KiB at
 *    p = 14). A register never exceeds 65 - p <= 61, so 6 bits always suffice.
 *
 * An entry is the sketch of one hash at the fixed precision p' = 25, as HLL++ (Heule,
 * Nunkesser and Hall) does: entry = idx25 << 6 | rho', with idx25 the top 25 bits of the
 * hash and rho' the rank of the remaining 39 bits (1..40). Two hashes with the same idx25
 * keep the larger rho'. Since p <= 18 < 25, an entry determines the register it sets at
 * any precision p: the index is the top p bits of idx25, and the rank is taken from the
 * next 25 - p bits of idx25 when they are not all zero, else it is 25 - p + rho'. So a
 * sparse sketch converted to registers is register-identical to one that was dense from
 * the start, and entries are independent of p, which makes merging sparse sketches of any
 * precision an insertion of entries. The array never takes more bytes than the registers
 * (at p = 14: 3072 entries, 12 KiB) and the list keeps at most 3/4 of that (2304 entries
 * at p = 14, the limit of the serialized format): a merge whose union would be larger
 * turns the sketch dense instead. Registers do not care about order or repeats, so that
 * conversion needs no sorting.
 *
 * Pending entries defer work, not results: estimate() merges them first, and
 * serialize() reads them through a sorted copy, writing the sketch exactly as the next
 * merge will keep it (dense when their union is past the limit), so the bytes depend on
 * the set of hashes only, and are the same before and after the merge.
 *
 * Estimator. Ertl, "New cardinality estimation algorithms for HyperLogLog sketches"
 * (arXiv:1702.01284, 2017), derives an estimator from the register histogram C[0..q+1]
 * that is unbiased over the whole range with no switch-over between linear counting and
 * the raw estimate, hence no kinks and no empirical bias tables:
 *
 *     z = m * tau(1 - C[q+1]/m);  for k = q..1: z = (z + C[k]) / 2;  z += m * sigma(C[0]/m)
 *     E = m^2 / (2 ln 2 * z)
 *     sigma(x) = x + sum_{k>=1} x^(2^k) 2^(k-1)
 *     tau(x)   = (1 - x - sum_{k>=1} (1 - x^(2^-k))^2 2^-k) / 3
 *
 * Redis uses the same estimator since 5.0. The sparse form is estimated with it too, as
 * a sketch of precision 25 whose histogram comes from the entries: with 2^25 registers
 * and at most a few tens of thousands of entries it behaves as linear counting over a
 * huge bitmap, which is exact up to rare idx25 collisions that it corrects on average.
 * Dense sketches cache their estimate until a register changes, because a firing window
 * asks for it while the histogram costs a pass over all registers.
 *
 * Merging takes the register-wise (or entry-wise) maximum, so sketch(A) merged with
 * sketch(B) equals sketch(A u B). A sketch of precision p2 > p folds into one of
 * precision p by the same rule as entries: register i of the larger sketch (when
 * non-zero) sets register i >> (p2 - p) of the smaller one, with the rank taken from the
 * dropped index bits or, when they are all zero, p2 - p + its value (Ertl, section 2.3).
 * The result is the sketch that precision p would have built.
 *
 * Serialization (version 1; all integers little-endian, independent of the host):
 *
 *     offset  size  field
 *     0       4     magic "WHLL" (0x57 0x48 0x4c 0x4c)
 *     4       1     version, 1
 *     5       1     precision p, 4..18
 *     6       1     encoding: 0 sparse, 1 dense
 *     7       1     reserved, 0
 *     sparse: 8  4      n, the number of entries, at most the sparse limit of p
 *             12 4n     entries (idx25 << 6 | rho'), idx25 strictly ascending, rho' 1..40
 *     dense:  8  3m/4   registers: register i is bits 6i..6i+5 of the little-endian bit
 *                       string, i.e. registers 4g..4g+3 are the 24-bit little-endian
 *                       group at byte 3g, lowest bits first; each at most 65 - p
 *     last    4     checksum: the low 32 bits of XXH3-64 (seed 0) of every byte before it
 *
 * Deserialization checks the length against the header exactly, the checksum, then every
 * field and value, and builds the sketch through the same code as add() of entries, so a
 * sketch read back is indistinguishable from one built by adds; anything else is
 * WEIR_ERR_CORRUPT.
 *
 * Cost. add() on a dense sketch is a shift, a count of leading zeros and a read-compare
 * of three bytes; on a sparse one a store at the end of the pending entries, plus a
 * share of a later sort and merge. The sort is linear in practice; the merge moves the
 * list and the pending entries once, and since at least a quarter of the array is left
 * for pending entries, that is at most four moves per pending entry (more at p >= 15
 * near the sparse limit, where at most 1024 entries are pending: the stack bounds them).
 * Sketches of up to 128 values merge once, at their first estimate. An earlier
 * open-addressing hash set paid a probe with an unpredictable branch per add and a full
 * rehash at every doubling: twice the cost on sketches of about a hundred values. Only a
 * change of the array's size or of the form allocates.
 */
#include "weir/hll.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define SP_P         25          /* precision of sparse entries */
#define SP_Q         (64 - SP_P) /* bits ranked by rho' */
#define INLINE_CAP   14          /* entries kept inside the sketch */
#define FIRST_CAP    32u         /* first heap array */
#define PEND_MAX     1024u       /* most pending entries: bounds the stack used to merge them */
#define UNSORTED_CAP 128u /* arrays below this grow without merging while the list is empty */
#define FMT_HDR      8    /* magic, version, p, encoding, reserved */
#define FMT_SUM      4    /* trailing checksum */
#define FMT_VER      1

enum { MODE_INLINE = 0, MODE_SPARSE = 1, MODE_DENSE = 2 };
enum { FLAG_OWNED = 1, FLAG_CACHED = 2 };

struct weir_hll {
    uint8_t p;
    uint8_t mode;
    uint8_t flags;
    uint8_t reserved;
    uint32_t n; /* inline: entries; sparse: entries of the sorted list */
    union {
        uint32_t inl[INLINE_CAP];
        struct {
            /* tab[0, n): distinct entries, ascending; tab[n, fill): pending entries, in
             * arrival order, possibly repeated. Appends stop at `end` (<= cap), where they
             * are merged into the list. */
            uint32_t *tab;
            uint32_t cap;
            uint32_t fill;
            uint32_t end;
        } sp;
        struct {
            uint8_t *regs;
            double cached; /* valid while FLAG_CACHED is set */
        } dn;
    } u;
};

_Static_assert(sizeof(struct weir_hll) == WEIR_HLL_EMBED_SIZE, "embedded size");

/* ---- sizes ---------------------------------------------------------------------------- */

static size_t dense_bytes(int p)
{
    return (size_t)3 << (p - 2);
}

/* The largest array whose bytes do not exceed the registers'. */
static uint32_t sparse_max_cap(int p)
{
    return 3u << (p - 4);
}

static uint32_t load_limit(uint32_t cap)
{
    return cap - cap / 4;
}

static uint32_t first_cap(int p)
{
    uint32_t max = sparse_max_cap(p);
    return max < FIRST_CAP ? max : FIRST_CAP;
}

/* Whether precision p has a heap sparse form at all: not when its registers are so few
 * that an array beyond the inline entries would be no smaller. */
static int has_sparse(int p)
{
    return load_limit(first_cap(p)) > INLINE_CAP;
}

/* The most entries a non-dense sketch of precision p keeps: 3/4 of the largest array, so
 * that a full list still leaves a quarter of it for pending entries. It is also the limit
 * of the serialized format, so it must not change. */
static uint32_t max_entries(int p)
{
    return has_sparse(p) ? load_limit(sparse_max_cap(p)) : INLINE_CAP;
}

static int valid_p(int p)
{
    return p >= WEIR_HLL_P_MIN && p <= WEIR_HLL_P_MAX;
}

/* ---- hashing into entries and registers ------------------------------------------------ */

static uint32_t entry_of(uint64_t hash)
{
    uint32_t idx = (uint32_t)(hash >> SP_Q);
    uint64_t rest = (hash << SP_P) | ((uint64_t)1 << (SP_P - 1));
    return idx << 6 | (uint32_t)(__builtin_clzll(rest) + 1);
}

/* The register index and rank that entry e sets at precision p. */
static void entry_reg(uint32_t e, int p, uint32_t *idx, uint32_t *rho)
{
    unsigned d = (unsigned)(SP_P - p);
    uint32_t key = e >> 6;
    uint32_t low = key & ((1u << d) - 1);
    *idx = key >> d;
    *rho = low ? (uint32_t)__builtin_clz(low) - (32 - d) + 1 : d + (e & 63);
}

static uint32_t reg_get(const uint8_t *regs, uint32_t i)
{
    const uint8_t *g = regs + (size_t)(i >> 2) * 3;
    uint32_t v = (uint32_t)g[0] | (uint32_t)g[1] << 8 | (uint32_t)g[2] << 16;
    return (v >> ((i & 3) * 6)) & 63;
}

/* Raises register i to rho if it is lower; returns 1 when it changed. */
static int reg_max(uint8_t *regs, uint32_t i, uint32_t rho)
{
    uint8_t *g = regs + (size_t)(i >> 2) * 3;
    unsigned sh = (i & 3) * 6;
    uint32_t v = (uint32_t)g[0] | (uint32_t)g[1] << 8 | (uint32_t)g[2] << 16;
    if (rho <= ((v >> sh) & 63))
        return 0;
    v = (v & ~(63u << sh)) | rho << sh;
    g[0] = (uint8_t)v;
    g[1] = (uint8_t)(v >> 8);
    g[2] = (uint8_t)(v >> 16);
    return 1;
}

/* Sets the registers `regs` of precision p from entries; order and repeats do not matter. */
static void regs_put_entries(uint8_t *regs, int p, const uint32_t *e, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        uint32_t idx, rho;
        entry_reg(e[i], p, &idx, &rho);
        reg_max(regs, idx, rho);
    }
}

/* ---- sorted entry lists ---------------------------------------------------------------- */

/*
 * Entries are below 2^31 and an entry's key is its value without the low 6 bits, so
 * sorting entries sorts keys, and of the entries sharing a key the last after sorting has
 * the largest rank: the one to keep.
 */

static void insertion_sort(uint32_t *a, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        uint32_t x = a[i], j = i;
        for (; j > 0 && a[j - 1] > x; j--)
            a[j] = a[j - 1];
        a[j] = x;
    }
}

/* Copies src[0, n) (n <= PEND_MAX) into dst sorted, one entry per key, and returns how many
 * remain. Keys are uniform, so one counting pass on their top bits leaves buckets of one or
 * two entries for the insertion sort: linear time in practice. */
static uint32_t sort_unique(const uint32_t *src, uint32_t n, uint32_t *dst)
{
    if (n <= 16) {
        memcpy(dst, src, n * sizeof(uint32_t));
    } else {
        uint32_t count[PEND_MAX + 1];
        /* About one entry per bucket: ceil(log2 n), 5..10. */
        unsigned bits = 32 - (unsigned)__builtin_clz(n - 1);
        if (bits > 10)
            bits = 10;
        unsigned shift = 31 - bits;
        memset(count, 0, ((size_t)1 << bits) * sizeof(uint32_t));
        for (uint32_t i = 0; i < n; i++)
            count[src[i] >> shift]++;
        uint32_t sum = 0;
        for (uint32_t b = 0; b < (1u << bits); b++) {
            uint32_t c = count[b];
            count[b] = sum;
            sum += c;
        }
        for (uint32_t i = 0; i < n; i++)
            dst[count[src[i] >> shift]++] = src[i];
    }
    insertion_sort(dst, n);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (k > 0 && (dst[k - 1] ^ dst[i]) < 64)
            dst[k - 1] = dst[i];
        else
            dst[k++] = dst[i];
    }
    return k;
}

/* Walks the union of two sorted unique lists in ascending order, one entry per key (the
 * larger rank), without writing either. Counts the entries, and optionally adds each to
 * the histogram `hist` of ranks or writes it little-endian to `out`. */
static uint32_t union_walk(const uint32_t *a, uint32_t na, const uint32_t *b, uint32_t nb,
                           uint32_t *hist, uint8_t *out)
{
    uint32_t i = 0, j = 0, k = 0;
    while (i < na || j < nb) {
        uint32_t v;
        if (j == nb || (i < na && (a[i] >> 6) < (b[j] >> 6))) {
            v = a[i++];
        } else if (i == na || (b[j] >> 6) < (a[i] >> 6)) {
            v = b[j++];
        } else {
            v = a[i] > b[j] ? a[i] : b[j];
            i++;
            j++;
        }
        if (hist)
            hist[v & 63]++;
        if (out) {
            uint8_t *o = out + 4 * (size_t)k;
            o[0] = (uint8_t)v;
            o[1] = (uint8_t)(v >> 8);
            o[2] = (uint8_t)(v >> 16);
            o[3] = (uint8_t)(v >> 24);
        }
        k++;
    }
    return k;
}

/* Merges the sorted unique list s[0, ns) into the sorted unique list a[0, na), in place
 * (a has room for na + ns), and returns the length of the result. It fills a from the
 * back, so no entry of a is overwritten before it is read; the loop selects without
 * branching, because which list supplies the next entry is a coin toss. */
static uint32_t merge_into(uint32_t *a, uint32_t na, const uint32_t *s, uint32_t ns)
{
    uint32_t i = na, j = ns, w = na + ns;
    while (i > 0 && j > 0) {
        uint32_t x = a[i - 1], y = s[j - 1];
        uint32_t from_a = (x >> 6) > (y >> 6), same = (x >> 6) == (y >> 6);
        uint32_t big = x > y ? x : y;
        a[--w] = from_a ? x : same ? big : y;
        i -= from_a | same;
        j -= from_a ^ 1;
    }
    while (j > 0)
        a[--w] = s[--j];
    /* a[0, i) is in place; a[w, na + ns) follows it after the keys that were merged. */
    if (w > i)
        memmove(a + i, a + w, (size_t)(na + ns - w) * sizeof(uint32_t));
    return i + (na + ns - w);
}

/* ---- forms ------------------------------------------------------------------------------ */

static void set_end(weir_hll *h)
{
    uint32_t room = h->u.sp.cap - h->n;
    h->u.sp.end = h->n + (room < PEND_MAX ? room : PEND_MAX);
}

/* Turns a non-dense sketch into the registers `regs` (dense_bytes(p), any content). */
static void densify_into(weir_hll *h, uint8_t *regs)
{
    memset(regs, 0, dense_bytes(h->p));
    if (h->mode == MODE_INLINE) {
        regs_put_entries(regs, h->p, h->u.inl, h->n);
    } else {
        regs_put_entries(regs, h->p, h->u.sp.tab, h->u.sp.fill);
        free(h->u.sp.tab);
    }
    h->mode = MODE_DENSE;
    h->n = 0;
    h->u.dn.regs = regs;
    h->u.dn.cached = 0;
    h->flags &= (uint8_t)~FLAG_CACHED;
}

/* Turns a non-dense sketch into registers. */
static weir_err densify(weir_hll *h)
{
    uint8_t *regs = malloc(dense_bytes(h->p));
    if (!regs)
        return WEIR_ERR_NOMEM;
    densify_into(h, regs);
    return WEIR_OK;
}

/* Resizes the array of a sparse sketch; on failure it stays as it was. */
static int resize(weir_hll *h, uint32_t cap)
{
    uint32_t *t = realloc(h->u.sp.tab, (size_t)cap * sizeof(uint32_t));
    if (!t)
        return 0;
    h->u.sp.tab = t;
    h->u.sp.cap = cap;
    return 1;
}

/*
 * Merges the pending entries of a sparse sketch into its sorted list, or turns it dense
 * when the union has more than max_entries(p) entries. With `grow` (the array is full and
 * an add waits), it may instead only enlarge the array: while the list is empty and the
 * array small (UNSORTED_CAP), appends simply continue in a doubled array, so that a
 * sketch of up to about a hundred values is sorted once, not at every doubling. After a
 * merge with `grow`, the array doubles when less than a quarter of it would be left for
 * pending entries (each merge is then paid for by at least that many appends), and any
 * merge halves an array that is at least four times larger than its list (repeated values
 * may have grown it while the list was empty). On WEIR_ERR_NOMEM the sketch holds the
 * same entries as before and is valid.
 */
static weir_err settle(weir_hll *h, int grow)
{
    uint32_t n = h->n, max = sparse_max_cap(h->p);
    uint32_t cap = h->u.sp.cap, ncap = cap * 2 < max ? cap * 2 : max;
    if (grow && n == 0 && cap < UNSORTED_CAP && cap < max && resize(h, ncap)) {
        set_end(h);
        return WEIR_OK;
    }
    if (h->u.sp.fill > n) {
        uint32_t s[PEND_MAX], *tab = h->u.sp.tab;
        uint32_t ns = sort_unique(tab + n, h->u.sp.fill - n, s);
        /* When the union may pass the limit, the registers are allocated first, so that a
         * failure leaves the sketch as it was. */
        uint8_t *regs = NULL;
        if (n + ns > max_entries(h->p) && !(regs = malloc(dense_bytes(h->p))))
            return WEIR_ERR_NOMEM;
        h->n = merge_into(tab, n, s, ns);
        h->u.sp.fill = h->n;
        if (h->n > max_entries(h->p)) {
            densify_into(h, regs);
            return WEIR_OK;
        }
        free(regs);
    }
    weir_err rc = WEIR_OK;
    while (cap > first_cap(h->p) && h->n <= cap / 4 && resize(h, cap / 2))
        cap /= 2;
    if (grow && cap < max && cap - h->n < cap / 4 && !resize(h, cap * 2 < max ? cap * 2 : max))
        rc = WEIR_ERR_NOMEM;
    set_end(h);
    return rc;
}

/* Moves the inline entries into a sorted list on the heap, or into registers when p has
 * no heap sparse form. */
static weir_err leave_inline(weir_hll *h)
{
    if (!has_sparse(h->p))
        return densify(h);
    uint32_t cap = first_cap(h->p);
    uint32_t *tab = malloc((size_t)cap * sizeof(uint32_t));
    if (!tab)
        return WEIR_ERR_NOMEM;
    /* They become pending entries, sorted with the next ones at the first merge. */
    memcpy(tab, h->u.inl, h->n * sizeof(uint32_t));
    h->mode = MODE_SPARSE;
    h->u.sp.tab = tab;
    h->u.sp.cap = cap;
    h->u.sp.fill = h->n;
    h->n = 0;
    set_end(h);
    return WEIR_OK;
}

static weir_err add_entry(weir_hll *h, uint32_t e);

/* The rare path of add_entry(): the inline entries or the pending ones are full. Kept out
 * of line so that the common path stays short. */
__attribute__((noinline)) static weir_err make_room_and_add(weir_hll *h, uint32_t e)
{
    weir_err rc;
    if (h->mode == MODE_INLINE) {
        rc = leave_inline(h);
    } else {
        rc = settle(h, 1);
        /* A failed growth still leaves room unless the array is full. */
        if (rc == WEIR_ERR_NOMEM && h->mode == MODE_SPARSE && h->u.sp.fill < h->u.sp.end)
            rc = WEIR_OK;
    }
    return rc == WEIR_OK ? add_entry(h, e) : rc;
}

static void dense_put_entry(weir_hll *h, uint32_t e)
{
    uint32_t idx, rho;
    entry_reg(e, h->p, &idx, &rho);
    if (reg_max(h->u.dn.regs, idx, rho))
        h->flags &= (uint8_t)~FLAG_CACHED;
}

static weir_err inline_add(weir_hll *h, uint32_t e)
{
    for (uint32_t i = 0; i < h->n; i++) {
        if ((h->u.inl[i] ^ e) < 64) {
            if (e > h->u.inl[i])
                h->u.inl[i] = e;
            return WEIR_OK;
        }
    }
    if (h->n >= INLINE_CAP)
        return make_room_and_add(h, e);
    h->u.inl[h->n++] = e;
    return WEIR_OK;
}

static weir_err add_entry(weir_hll *h, uint32_t e)
{
    if (h->mode == MODE_SPARSE) {
        uint32_t f = h->u.sp.fill;
        if (f == h->u.sp.end)
            return make_room_and_add(h, e);
        h->u.sp.tab[f] = e;
        h->u.sp.fill = f + 1;
        return WEIR_OK;
    }
    if (h->mode == MODE_DENSE) {
        dense_put_entry(h, e);
        return WEIR_OK;
    }
    return inline_add(h, e);
}

/* ---- life cycle ------------------------------------------------------------------------- */

static void init_empty(weir_hll *h, int p, uint8_t flags)
{
    memset(h, 0, sizeof(*h));
    h->p = (uint8_t)p;
    h->mode = MODE_INLINE;
    h->flags = flags;
}

static void free_data(weir_hll *h)
{
    if (h->mode == MODE_SPARSE)
        free(h->u.sp.tab);
    else if (h->mode == MODE_DENSE)
        free(h->u.dn.regs);
}

weir_err weir_hll_new(int precision, weir_hll **out)
{
    if (!out || !valid_p(precision))
        return WEIR_ERR_INVALID_ARG;
    weir_hll *h = malloc(sizeof(*h));
    if (!h)
        return WEIR_ERR_NOMEM;
    init_empty(h, precision, FLAG_OWNED);
    *out = h;
    return WEIR_OK;
}

void weir_hll_destroy(weir_hll *h)
{
    if (!h)
        return;
    free_data(h);
    if (h->flags & FLAG_OWNED)
        free(h);
    else
        init_empty(h, h->p, 0);
}

weir_hll *weir_hll_embed_init(void *mem, int precision)
{
    if (!mem || !valid_p(precision))
        return NULL;
    weir_hll *h = mem;
    init_empty(h, precision, 0);
    return h;
}

void weir_hll_embed_fini(weir_hll *h)
{
    if (!h)
        return;
    free_data(h);
    init_empty(h, h->p, h->flags & FLAG_OWNED);
}

weir_err weir_hll_clone(const weir_hll *h, weir_hll **out)
{
    weir_hll *c = malloc(sizeof(*c));
    if (!c)
        return WEIR_ERR_NOMEM;
    *c = *h;
    c->flags = (uint8_t)((h->flags & ~FLAG_OWNED) | FLAG_OWNED);
    if (h->mode == MODE_SPARSE) {
        c->u.sp.tab = malloc((size_t)h->u.sp.cap * sizeof(uint32_t));
        if (!c->u.sp.tab) {
            free(c);
            return WEIR_ERR_NOMEM;
        }
        memcpy(c->u.sp.tab, h->u.sp.tab, (size_t)h->u.sp.fill * sizeof(uint32_t));
    } else if (h->mode == MODE_DENSE) {
        c->u.dn.regs = malloc(dense_bytes(h->p));
        if (!c->u.dn.regs) {
            free(c);
            return WEIR_ERR_NOMEM;
        }
        memcpy(c->u.dn.regs, h->u.dn.regs, dense_bytes(h->p));
    }
    *out = c;
    return WEIR_OK;
}

int weir_hll_precision(const weir_hll *h)
{
    return h->p;
}

int weir_hll_is_sparse(const weir_hll *h)
{
    return h->mode != MODE_DENSE;
}

size_t weir_hll_heap_bytes(const weir_hll *h)
{
    size_t b = (h->flags & FLAG_OWNED) ? sizeof(*h) : 0;
    if (h->mode == MODE_SPARSE)
        b += (size_t)h->u.sp.cap * sizeof(uint32_t);
    else if (h->mode == MODE_DENSE)
        b += dense_bytes(h->p);
    return b;
}

/* ---- add -------------------------------------------------------------------------------- */

weir_err weir_hll_add(weir_hll *h, uint64_t hash)
{
    if (h->mode == MODE_DENSE) {
        unsigned p = h->p;
        uint32_t idx = (uint32_t)(hash >> (64 - p));
        uint32_t rho = (uint32_t)__builtin_clzll((hash << p) | ((uint64_t)1 << (p - 1))) + 1;
        if (reg_max(h->u.dn.regs, idx, rho))
            h->flags &= (uint8_t)~FLAG_CACHED;
        return WEIR_OK;
    }
    uint32_t e = entry_of(hash);
    if (h->mode == MODE_SPARSE) {
        uint32_t f = h->u.sp.fill;
        if (__builtin_expect(f == h->u.sp.end, 0))
            return make_room_and_add(h, e);
        h->u.sp.tab[f] = e;
        h->u.sp.fill = f + 1;
        return WEIR_OK;
    }
    return inline_add(h, e);
}

/* ---- estimate --------------------------------------------------------------------------- */

static double sigma(double x)
{
    double y = 1, z = x, prev;
    do {
        x *= x;
        prev = z;
        z += x * y;
        y += y;
    } while (z != prev);
    return z;
}

static double tau(double x)
{
    if (x == 0 || x == 1)
        return 0;
    double y = 1, z = 1 - x, prev;
    do {
        x = sqrt(x);
        prev = z;
        y *= 0.5;
        z -= (1 - x) * (1 - x) * y;
    } while (z != prev);
    return z / 3;
}

/* Ertl's improved estimator over the histogram c[0..q+1] of 2^p registers. */
static double ertl_estimate(const uint32_t *c, int p, int q)
{
    double m = ldexp(1.0, p);
    if (c[0] == (uint32_t)m)
        return 0;
    double z = m * tau(1 - c[q + 1] / m);
    for (int k = q; k >= 1; k--)
        z = 0.5 * (z + c[k]);
    z += m * sigma(c[0] / m);
    double e = m * m / (2 * M_LN2 * z);
    /* Only crafted sketches (every register saturated) reach this: keep results finite. */
    return e < 0x1p64 ? e : 0x1p64;
}

/* The histogram of ranks of a non-dense sketch's entries (c[0] left 0), and their number.
 * Reads only: pending entries are sorted into a copy. */
static uint32_t sparse_histogram(const weir_hll *h, uint32_t *c)
{
    uint32_t s[PEND_MAX], ns;
    if (h->mode == MODE_INLINE) { /* distinct keys already */
        for (uint32_t i = 0; i < h->n; i++)
            c[h->u.inl[i] & 63]++;
        return h->n;
    }
    if (h->u.sp.fill == h->n) {
        for (uint32_t i = 0; i < h->n; i++)
            c[h->u.sp.tab[i] & 63]++;
        return h->n;
    }
    ns = sort_unique(h->u.sp.tab + h->n, h->u.sp.fill - h->n, s);
    return union_walk(h->u.sp.tab, h->n, s, ns, c, NULL);
}

double weir_hll_estimate(weir_hll *h)
{
    uint32_t c[64] = {0};
    if (h->mode == MODE_SPARSE) {
        /* Merging the pending entries now saves sorting them at every later estimate. When
         * that fails for want of memory, the estimate is still computed from a copy. */
        settle(h, 0);
    }
    if (h->mode != MODE_DENSE) {
        uint32_t n = sparse_histogram(h, c);
        if (n == 0)
            return 0;
        c[0] = ((uint32_t)1 << SP_P) - n;
        return ertl_estimate(c, SP_P, SP_Q);
    }
    if (h->flags & FLAG_CACHED)
        return h->u.dn.cached;
    /* Four histograms break the dependency between consecutive increments of one bucket. */
    uint32_t c4[4][64] = {{0}};
    const uint8_t *g = h->u.dn.regs;
    size_t groups = (size_t)1 << (h->p - 2);
    for (size_t i = 0; i < groups; i++, g += 3) {
        uint32_t v = (uint32_t)g[0] | (uint32_t)g[1] << 8 | (uint32_t)g[2] << 16;
        c4[0][v & 63]++;
        c4[1][(v >> 6) & 63]++;
        c4[2][(v >> 12) & 63]++;
        c4[3][v >> 18]++;
    }
    for (int k = 0; k < 64; k++)
        c[k] = c4[0][k] + c4[1][k] + c4[2][k] + c4[3][k];
    double e = ertl_estimate(c, h->p, 64 - h->p);
    h->u.dn.cached = e;
    h->flags |= FLAG_CACHED;
    return e;
}

/* ---- merge ------------------------------------------------------------------------------ */

weir_err weir_hll_merge(weir_hll *dst, const weir_hll *src)
{
    if (src->p < dst->p)
        return WEIR_ERR_INVALID_ARG;
    if (dst == src)
        return WEIR_OK;
    if (src->mode != MODE_DENSE) {
        const uint32_t *e = src->mode == MODE_INLINE ? src->u.inl : src->u.sp.tab;
        uint32_t count = src->mode == MODE_INLINE ? src->n : src->u.sp.fill;
        for (uint32_t i = 0; i < count; i++) {
            weir_err rc = add_entry(dst, e[i]);
            if (rc != WEIR_OK)
                return rc;
        }
        return WEIR_OK;
    }
    if (dst->mode != MODE_DENSE) {
        weir_err rc = densify(dst);
        if (rc != WEIR_OK)
            return rc;
    }
    unsigned d = (unsigned)(src->p - dst->p);
    uint32_t m = (uint32_t)1 << src->p, lowmask = (1u << d) - 1;
    int changed = 0;
    for (uint32_t i = 0; i < m; i++) {
        uint32_t r = reg_get(src->u.dn.regs, i);
        if (!r)
            continue;
        uint32_t low = i & lowmask;
        uint32_t rho = low ? (uint32_t)__builtin_clz(low) - (32 - d) + 1 : d + r;
        changed |= reg_max(dst->u.dn.regs, i >> d, rho);
    }
    if (changed)
        dst->flags &= (uint8_t)~FLAG_CACHED;
    return WEIR_OK;
}

/* ---- serialization ---------------------------------------------------------------------- */

static void wr32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
    b[2] = (uint8_t)(v >> 16);
    b[3] = (uint8_t)(v >> 24);
}

static uint32_t rd32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint32_t checksum(const uint8_t *b, size_t len)
{
    return (uint32_t)XXH3_64bits(b, len);
}

/* The entries a non-dense sketch holds: its sorted list (none when inline) and, sorted
 * into s, its pending entries (the inline ones). Returns the number of entries in the
 * union. */
static uint32_t sparse_view(const weir_hll *h, const uint32_t **list, uint32_t *nlist, uint32_t *s,
                            uint32_t *ns)
{
    if (h->mode == MODE_INLINE) {
        *list = NULL;
        *nlist = 0;
        *ns = sort_unique(h->u.inl, h->n, s);
    } else {
        *list = h->u.sp.tab;
        *nlist = h->n;
        *ns = sort_unique(h->u.sp.tab + h->n, h->u.sp.fill - h->n, s);
    }
    return union_walk(*list, *nlist, s, *ns, NULL, NULL);
}

/* Whether `h` is written in the dense encoding: when it is dense, or when its pending
 * entries take its union past the sparse limit (it turns dense at their next merge). */
static int written_dense(const weir_hll *h, uint32_t *entries)
{
    *entries = 0;
    if (h->mode == MODE_DENSE)
        return 1;
    if (h->mode == MODE_INLINE || h->u.sp.fill == h->n) {
        *entries = h->n;
        return 0;
    }
    uint32_t s[PEND_MAX], nl, ns;
    const uint32_t *l;
    *entries = sparse_view(h, &l, &nl, s, &ns);
    return *entries > max_entries(h->p);
}

size_t weir_hll_serialized_size(const weir_hll *h)
{
    uint32_t n;
    if (written_dense(h, &n))
        return FMT_HDR + dense_bytes(h->p) + FMT_SUM;
    return FMT_HDR + 4 + (size_t)n * 4 + FMT_SUM;
}

size_t weir_hll_serialize(const weir_hll *h, uint8_t *out, size_t cap)
{
    size_t size = weir_hll_serialized_size(h);
    if (cap < size)
        return 0;
    uint32_t n;
    int dense = written_dense(h, &n);
    memcpy(out, "WHLL", 4);
    out[4] = FMT_VER;
    out[5] = h->p;
    out[6] = (uint8_t)dense;
    out[7] = 0;
    if (h->mode == MODE_DENSE) {
        memcpy(out + FMT_HDR, h->u.dn.regs, dense_bytes(h->p));
    } else if (dense) {
        /* The registers the next merge of pending entries will produce. */
        memset(out + FMT_HDR, 0, dense_bytes(h->p));
        regs_put_entries(out + FMT_HDR, h->p, h->u.sp.tab, h->u.sp.fill);
    } else {
        /* Ascending entries make the bytes canonical, whatever the arrival order. */
        uint32_t s[PEND_MAX], nl, ns;
        const uint32_t *l;
        sparse_view(h, &l, &nl, s, &ns);
        wr32(out + FMT_HDR, n);
        union_walk(l, nl, s, ns, NULL, out + FMT_HDR + 4);
    }
    wr32(out + size - FMT_SUM, checksum(out, size - FMT_SUM));
    return size;
}

weir_err weir_hll_deserialize_into(weir_hll *h, const uint8_t *in, size_t len)
{
    if (!h || (!in && len))
        return WEIR_ERR_INVALID_ARG;
    if (len < FMT_HDR + FMT_SUM || memcmp(in, "WHLL", 4) != 0)
        return WEIR_ERR_CORRUPT;
    if (in[4] > FMT_VER)
        return WEIR_ERR_UNSUPPORTED;
    int p = in[5], enc = in[6];
    if (in[4] != FMT_VER || !valid_p(p) || enc > 1 || in[7] != 0)
        return WEIR_ERR_CORRUPT;
    uint32_t n = 0;
    if (enc == 0) {
        if (len < FMT_HDR + 4 + FMT_SUM)
            return WEIR_ERR_CORRUPT;
        n = rd32(in + FMT_HDR);
        if (n > max_entries(p) || len != FMT_HDR + 4 + (size_t)n * 4 + FMT_SUM)
            return WEIR_ERR_CORRUPT;
    } else if (len != FMT_HDR + dense_bytes(p) + FMT_SUM) {
        return WEIR_ERR_CORRUPT;
    }
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    /* Fuzzing builds skip the checksum so that the fuzzer reaches the checks behind it. */
    if (rd32(in + len - FMT_SUM) != checksum(in, len - FMT_SUM))
        return WEIR_ERR_CORRUPT;
#endif
    weir_hll t;
    init_empty(&t, p, 0);
    if (enc == 0) {
        const uint8_t *e = in + FMT_HDR + 4;
        int64_t prev = -1;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t v = rd32(e + 4 * (size_t)i), rho = v & 63;
            if ((v >> 31) || (int64_t)(v >> 6) <= prev || rho == 0 || rho > SP_Q + 1) {
                free_data(&t);
                return WEIR_ERR_CORRUPT;
            }
            prev = v >> 6;
            weir_err rc = add_entry(&t, v);
            if (rc != WEIR_OK) {
                free_data(&t);
                return rc;
            }
        }
    } else {
        const uint8_t *r = in + FMT_HDR;
        uint32_t m = (uint32_t)1 << p, max = (uint32_t)(65 - p);
        for (uint32_t i = 0; i < m; i++) {
            if (reg_get(r, i) > max)
                return WEIR_ERR_CORRUPT;
        }
        t.u.dn.regs = malloc(dense_bytes(p));
        if (!t.u.dn.regs)
            return WEIR_ERR_NOMEM;
        memcpy(t.u.dn.regs, r, dense_bytes(p));
        t.mode = MODE_DENSE;
    }
    free_data(h);
    t.flags = h->flags & FLAG_OWNED;
    *h = t;
    return WEIR_OK;
}

weir_err weir_hll_deserialize(const uint8_t *in, size_t len, weir_hll **out)
{
    if (!out)
        return WEIR_ERR_INVALID_ARG;
    *out = NULL;
    weir_hll *h;
    weir_err rc = weir_hll_new(WEIR_HLL_P_DEFAULT, &h);
    if (rc != WEIR_OK)
        return rc;
    rc = weir_hll_deserialize_into(h, in, len);
    if (rc != WEIR_OK) {
        weir_hll_destroy(h);
        return rc;
    }
    *out = h;
    return WEIR_OK;
}
