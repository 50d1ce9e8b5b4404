/* libFuzzer target: the payload of a Kafka-mode checkpoint (runtime/kafka_job.c, read at
 * each partition's restore): positions, the configuration's meaning, the results topic's
 * ends, the held results and the pipeline snapshot. Any bytes are refused or restored into
 * a pipeline that works on; what was accepted, written again, is accepted as the same
 * state and writes the same bytes.
 *
 * Input: one byte of options, then the payload. Bit 0: a global job's unit over partitions
 * {2, 0, 1} (else partition 3 of a keyed job); bit 1: the job has a results topic (of two
 * partitions) and so held results; bit 2: fix the pipeline snapshot's checksum, which the
 * fuzzer cannot compute. */
#include <xxhash.h>

#include "fuzz.h"
#include "runtime/kafka_job_int.h"
#include "runtime/meaning.h"

static const int32_t SLOTS[3] = {2, 0, 1};

typedef struct env {
    weir_conf *conf;
    char *meaning;
} env;

static const env *get_env(void)
{
    static env e;
    if (!e.conf) {
        e.conf = weir_conf_new();
        e.meaning = weir__conf_meaning(e.conf);
        CHECK(e.conf && e.meaning);
    }
    return &e;
}

/* The checksum of the pipeline snapshot that ends the payload, wherever it starts. */
static void fix_snapshot_sum(uint8_t *b, size_t len)
{
    for (size_t s = 8; s + 16 <= len; s++) {
        uint64_t plen = 0;
        for (int i = 0; i < 8; i++)
            plen |= (uint64_t)b[s - 8 + i] << (8 * i);
        if (plen == len - s && !memcmp(b + s, "WEIRPIPE", 8)) {
            uint64_t h = XXH64(b + s, len - s - 8, 0);
            for (int i = 0; i < 8; i++)
                b[len - 8 + i] = (uint8_t)(h >> (8 * i));
            return;
        }
    }
}

typedef struct unit {
    weir__kjob_restore k;
    weir__unit *unit;
    weir_pipeline *pl; /* the unit's */
    weir__held *held;
} unit;

static void unit_new(unit *u, unsigned opts)
{
    const env *e = get_env();
    memset(u, 0, sizeof *u);
    int global = opts & 1;
    char err[256];
    weir__unit_sinks none = {0};
    CHECK(weir__pipeline_kind.create(e->conf, global ? 3 : 1, &none, &u->unit, err, sizeof err) ==
          WEIR_OK);
    u->pl = weir__unit_pipeline(u->unit);
    CHECK(u->pl);
    if (opts & 2) {
        u->held = weir__held_new("product_id", NULL, 0);
        CHECK(u->held);
    }
    u->k = (weir__kjob_restore){.conf = e->conf,
                                .meaning = e->meaning,
                                .has_results = (opts & 2) != 0,
                                .results_parts = (opts & 2) ? 2 : 0,
                                .unit = global ? -1 : 3,
                                .slots = SLOTS,
                                .n_slots = global ? 3 : 0,
                                .pl = u->unit,
                                .held = u->held};
}

static void unit_free(unit *u)
{
    free(u->k.parts);
    free(u->k.next);
    free(u->k.ends);
    weir__unit_destroy(u->unit);
    weir_sink_destroy(u->held ? &u->held->base : NULL);
}

/* The payload of the state `u` accepted, as kafka_job.c's checkpoint() writes it. */
static void payload_of(const unit *u, uint32_t reserved, fz_buf *b)
{
    const env *e = get_env();
    fz_add(b, "WEIRKJOB", 8);
    fz_le32(b, 1);
    fz_le32(b, reserved);
    fz_le64(b, u->k.seq);
    fz_le32(b, (uint32_t)u->k.n_parts);
    for (int i = 0; i < u->k.n_parts; i++) {
        fz_le32(b, (uint32_t)u->k.parts[i]);
        fz_le64(b, (uint64_t)u->k.next[i]);
    }
    fz_le32(b, (uint32_t)strlen(e->meaning));
    fz_str(b, e->meaning);
    fz_le32(b, (uint32_t)u->k.n_ends);
    for (int i = 0; i < u->k.n_ends; i++)
        fz_le64(b, (uint64_t)u->k.ends[i]);
    fz_le64(b, u->held ? u->held->count : 0);
    fz_le64(b, u->held ? u->held->len : 0);
    if (u->held)
        fz_add(b, u->held->log, u->held->len);
    uint8_t *snap;
    size_t snap_len;
    CHECK(weir_pipeline_snapshot(u->pl, &snap, &snap_len) == WEIR_OK);
    fz_le64(b, snap_len);
    fz_add(b, snap, snap_len);
    free(snap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned opts = data[0];
    uint8_t *b = fz_dup(data + 1, size - 1);
    size_t len = size - 1;
    if (opts & 4)
        fix_snapshot_sum(b, len);
    unit u;
    unit_new(&u, opts);
    char why[512] = "";
    weir_err rc = weir__kafka_job_accept(&u.k, b, len, why, sizeof why);
    CHECK(memchr(why, 0, sizeof why));
    if (rc != WEIR_OK) {
        CHECK(rc == WEIR_ERR_CORRUPT || rc == WEIR_ERR_UNSUPPORTED || rc == WEIR_ERR_INVALID_ARG ||
              rc == WEIR_ERR_NOMEM);
        CHECK(why[0]);
    } else {
        CHECK(u.k.n_parts == ((opts & 1) ? 3 : 1));
        fz_buf p1 = {0}, p2 = {0};
        payload_of(&u, 0, &p1);
        unit v;
        unit_new(&v, opts);
        CHECK(weir__kafka_job_accept(&v.k, p1.p, p1.len, why, sizeof why) == WEIR_OK);
        CHECK(v.k.seq == u.k.seq && v.k.n_parts == u.k.n_parts && v.k.n_ends == u.k.n_ends);
        CHECK(!memcmp(v.k.parts, u.k.parts, sizeof(int32_t) * (size_t)u.k.n_parts));
        CHECK(!memcmp(v.k.next, u.k.next, sizeof(int64_t) * (size_t)u.k.n_parts));
        CHECK(!u.k.n_ends || !memcmp(v.k.ends, u.k.ends, sizeof(int64_t) * (size_t)u.k.n_ends));
        payload_of(&v, 0, &p2);
        CHECK(p1.len == p2.len && !memcmp(p1.p, p2.p, p1.len));
        unit_free(&v);
        free(p1.p);
        free(p2.p);
        /* The restored pipeline works on. */
        const char *r = "{\"product_id\":\"p\",\"user_id\":\"u\",\"timestamp\":1}";
        weir_record rec = {r, strlen(r), 0, 0};
        CHECK(weir_pipeline_push(u.pl, &rec, 1, 1) == WEIR_OK);
        CHECK(weir_pipeline_tick(u.pl, 2) == WEIR_OK);
        CHECK(weir_pipeline_finish(u.pl) == WEIR_OK);
    }
    unit_free(&u);
    free(b);
    return 0;
}
