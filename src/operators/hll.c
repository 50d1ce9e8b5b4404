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
 *  - sparse: an open-addressing hash set of entries on the heap, 4 bytes per slot, load
 *    factor at most 3/4, growing by doubling;
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
 * precision an insertion of entries. The sparse form turns dense when its table would
 * take more bytes than the registers (at p = 14: 3072 slots, 2304 entries, 12 KiB).
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
 * field and value, and builds the sketch through the same insertion code as add(), so a
 * sketch read back is indistinguishable from one built by adds; anything else is
 * WEIR_ERR_CORRUPT.
 *
 * Cost. add() on a dense sketch is a shift, a count of leading zeros and a read-compare
 * of three bytes; on a sparse one a hash-set probe in a table of a few KiB (idx25 is
 * uniform, so its scaled value is the slot: no second hash). Neither allocates except when
 * the form changes.
 */
#include "weir/hll.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define SP_P       25          /* precision of sparse entries */
#define SP_Q       (64 - SP_P) /* bits ranked by rho' */
#define INLINE_CAP 14          /* entries kept inside the sketch */
#define FIRST_CAP  32u         /* first heap table */
#define FMT_HDR    8           /* magic, version, p, encoding, reserved */
#define FMT_SUM    4           /* trailing checksum */
#define FMT_VER    1

enum { MODE_INLINE = 0, MODE_SPARSE = 1, MODE_DENSE = 2 };
enum { FLAG_OWNED = 1, FLAG_CACHED = 2 };

struct weir_hll {
    uint8_t p;
    uint8_t mode;
    uint8_t flags;
    uint8_t reserved;
    uint32_t n; /* entries, inline and sparse forms */
    union {
        uint32_t inl[INLINE_CAP];
        struct {
            uint32_t *tab; /* 0 marks an empty slot: an entry's rho' is never 0 */
            uint32_t cap;
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

/* The largest table whose bytes do not exceed the registers'. */
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
 * that a table beyond the inline entries would be no smaller. */
static int has_sparse(int p)
{
    return load_limit(first_cap(p)) > INLINE_CAP;
}

/* The most entries a non-dense sketch of precision p holds. */
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

static void dense_put_entry(weir_hll *h, uint32_t e)
{
    uint32_t idx, rho;
    entry_reg(e, h->p, &idx, &rho);
    if (reg_max(h->u.dn.regs, idx, rho))
        h->flags &= (uint8_t)~FLAG_CACHED;
}

/* ---- sparse table ---------------------------------------------------------------------- */

static uint32_t slot_of(uint32_t e, uint32_t cap)
{
    return (uint32_t)(((uint64_t)(e >> 6) * cap) >> SP_P);
}

/* Inserts e into a table known to have room and not to hold its key. */
static void tab_insert_new(uint32_t *tab, uint32_t cap, uint32_t e)
{
    uint32_t s = slot_of(e, cap);
    while (tab[s]) {
        if (++s == cap)
            s = 0;
    }
    tab[s] = e;
}

/* Turns a non-dense sketch into registers. */
static weir_err densify(weir_hll *h)
{
    uint8_t *regs = calloc(1, dense_bytes(h->p));
    if (!regs)
        return WEIR_ERR_NOMEM;
    uint32_t inl[INLINE_CAP];
    const uint32_t *src;
    uint32_t count;
    uint32_t *tab = NULL;
    if (h->mode == MODE_INLINE) {
        memcpy(inl, h->u.inl, h->n * sizeof(uint32_t));
        src = inl;
        count = h->n;
    } else {
        tab = h->u.sp.tab;
        src = tab;
        count = h->u.sp.cap;
    }
    h->mode = MODE_DENSE;
    h->n = 0;
    h->u.dn.regs = regs;
    h->u.dn.cached = 0;
    h->flags &= (uint8_t)~FLAG_CACHED;
    for (uint32_t i = 0; i < count; i++) {
        if (src[i])
            dense_put_entry(h, src[i]);
    }
    free(tab);
    return WEIR_OK;
}

/* Makes room for one more entry: a bigger table, or registers. */
static weir_err grow(weir_hll *h)
{
    uint32_t cap;
    if (h->mode == MODE_INLINE) {
        if (!has_sparse(h->p))
            return densify(h);
        cap = first_cap(h->p);
    } else {
        uint32_t max = sparse_max_cap(h->p);
        if (h->u.sp.cap >= max)
            return densify(h);
        cap = h->u.sp.cap * 2 < max ? h->u.sp.cap * 2 : max;
    }
    uint32_t *tab = calloc(cap, sizeof(uint32_t));
    if (!tab)
        return WEIR_ERR_NOMEM;
    if (h->mode == MODE_INLINE) {
        for (uint32_t i = 0; i < h->n; i++)
            tab_insert_new(tab, cap, h->u.inl[i]);
    } else {
        for (uint32_t s = 0; s < h->u.sp.cap; s++) {
            if (h->u.sp.tab[s])
                tab_insert_new(tab, cap, h->u.sp.tab[s]);
        }
        free(h->u.sp.tab);
    }
    h->mode = MODE_SPARSE;
    h->u.sp.tab = tab;
    h->u.sp.cap = cap;
    return WEIR_OK;
}

static weir_err add_entry(weir_hll *h, uint32_t e);

/* The rare path of add_entry(), kept out of line so that the common one stays short. */
__attribute__((noinline)) static weir_err grow_and_add(weir_hll *h, uint32_t e)
{
    weir_err rc = grow(h);
    return rc == WEIR_OK ? add_entry(h, e) : rc;
}

static weir_err add_entry(weir_hll *h, uint32_t e)
{
    if (h->mode == MODE_SPARSE) {
        uint32_t *tab = h->u.sp.tab, cap = h->u.sp.cap;
        uint32_t s = slot_of(e, cap);
        for (uint32_t v; (v = tab[s]) != 0;) {
            /* Same key (the bits above rho'): keep the larger rank, which is the larger
             * entry. */
            if ((v ^ e) < 64) {
                if (e > v)
                    tab[s] = e;
                return WEIR_OK;
            }
            if (++s == cap)
                s = 0;
        }
        if (h->n >= load_limit(cap))
            return grow_and_add(h, e);
        tab[s] = e;
        h->n++;
        return WEIR_OK;
    }
    if (h->mode == MODE_DENSE) {
        dense_put_entry(h, e);
        return WEIR_OK;
    }
    for (uint32_t i = 0; i < h->n; i++) {
        if ((h->u.inl[i] ^ e) < 64) {
            if (e > h->u.inl[i])
                h->u.inl[i] = e;
            return WEIR_OK;
        }
    }
    if (h->n >= INLINE_CAP)
        return grow_and_add(h, e);
    h->u.inl[h->n++] = e;
    return WEIR_OK;
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
        memcpy(c->u.sp.tab, h->u.sp.tab, (size_t)h->u.sp.cap * sizeof(uint32_t));
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
    return add_entry(h, entry_of(hash));
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

double weir_hll_estimate(weir_hll *h)
{
    uint32_t c[64] = {0};
    if (h->mode != MODE_DENSE) {
        if (h->n == 0)
            return 0;
        if (h->mode == MODE_INLINE) {
            for (uint32_t i = 0; i < h->n; i++)
                c[h->u.inl[i] & 63]++;
        } else {
            for (uint32_t s = 0; s < h->u.sp.cap; s++)
                c[h->u.sp.tab[s] & 63]++;
            c[0] = 0; /* the empty slots counted there */
        }
        c[0] = ((uint32_t)1 << SP_P) - h->n;
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
    if (src->mode == MODE_INLINE) {
        for (uint32_t i = 0; i < src->n; i++) {
            weir_err rc = add_entry(dst, src->u.inl[i]);
            if (rc != WEIR_OK)
                return rc;
        }
        return WEIR_OK;
    }
    if (src->mode == MODE_SPARSE) {
        for (uint32_t s = 0; s < src->u.sp.cap; s++) {
            if (src->u.sp.tab[s]) {
                weir_err rc = add_entry(dst, src->u.sp.tab[s]);
                if (rc != WEIR_OK)
                    return rc;
            }
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

static int cmp_le32(const void *a, const void *b)
{
    uint32_t x = rd32(a), y = rd32(b);
    return (x > y) - (x < y);
}

size_t weir_hll_serialized_size(const weir_hll *h)
{
    if (h->mode == MODE_DENSE)
        return FMT_HDR + dense_bytes(h->p) + FMT_SUM;
    return FMT_HDR + 4 + (size_t)h->n * 4 + FMT_SUM;
}

size_t weir_hll_serialize(const weir_hll *h, uint8_t *out, size_t cap)
{
    size_t size = weir_hll_serialized_size(h);
    if (cap < size)
        return 0;
    memcpy(out, "WHLL", 4);
    out[4] = FMT_VER;
    out[5] = h->p;
    out[6] = h->mode == MODE_DENSE;
    out[7] = 0;
    if (h->mode == MODE_DENSE) {
        memcpy(out + FMT_HDR, h->u.dn.regs, dense_bytes(h->p));
    } else {
        uint8_t *e = out + FMT_HDR + 4;
        wr32(out + FMT_HDR, h->n);
        if (h->mode == MODE_INLINE) {
            for (uint32_t i = 0; i < h->n; i++)
                wr32(e + 4 * i, h->u.inl[i]);
        } else {
            uint32_t k = 0;
            for (uint32_t s = 0; s < h->u.sp.cap; s++) {
                if (h->u.sp.tab[s])
                    wr32(e + 4 * k++, h->u.sp.tab[s]);
            }
        }
        /* Sorting makes the bytes canonical, whatever the table order. Entries of one
         * sketch have distinct keys, so sorting entries sorts keys. */
        qsort(e, h->n, 4, cmp_le32);
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
