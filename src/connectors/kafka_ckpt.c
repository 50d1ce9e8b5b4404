/* The Kafka checkpoint store: snapshots as chunks plus a manifest in a compacted topic, and
 * the range reader (a consumer of no group) that it and the job's output recovery share. */
#include "connectors/kafka_int.h"
#include "runtime/errbuf.h"
#include "state/bytes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define CHUNK_MAX  (512 * 1024)
#define CHUNK_HEAD 32
#define MANI_LEN   48
#define VERSION    1
#define READ_MS    60000

/* ------------------------------------------------------------ reading a range */

static void reader_on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    weir__kafka_log(rd_kafka_opaque(rk), rk, level, fac, buf);
}

rd_kafka_t *weir__kafka_reader_new(const weir_conf *conf, const weir__log *log, char *errstr,
                                   size_t errstr_size)
{
    rd_kafka_conf_t *rc = rd_kafka_conf_new();
    if (!rc) {
        weir__errf(errstr, errstr_size, "kafka reader: out of memory");
        return NULL;
    }
    static const char *const defaults[] = {"enable.partition.eof",
                                           "true",
                                           "enable.auto.commit",
                                           "false",
                                           "auto.offset.reset",
                                           "earliest",
                                           "isolation.level",
                                           "read_committed",
                                           "client.id",
                                           "weir-reader",
                                           NULL};
    if (weir_kafka_conf_apply(rc, conf, "consumer", defaults, errstr, errstr_size) != WEIR_OK) {
        rd_kafka_conf_destroy(rc);
        return NULL;
    }
    /* A reader assigns partitions itself and never joins or commits to a group; librdkafka
     * still wants a group id for assign(). */
    rd_kafka_conf_set(rc, "group.id", "weir-reader", NULL, 0);
    rd_kafka_conf_set_opaque(rc, (void *)log);
    rd_kafka_conf_set_log_cb(rc, reader_on_log);
    char why[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, rc, why, sizeof why);
    if (!rk) {
        rd_kafka_conf_destroy(rc);
        weir__errf(errstr, errstr_size, "kafka reader: %s", why);
    }
    return rk;
}

int weir__kafka_partition_count(rd_kafka_t *rk, const char *topic, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    if (!t) {
        weir__errf(errstr, errstr_size, "%s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
        return -2;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, t, &md, 10000);
    int n = -2;
    if (err) {
        weir__errf(errstr, errstr_size, "metadata of %s: %s", topic, rd_kafka_err2str(err));
    } else if (md->topic_cnt < 1 || md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
               md->topics[0].partition_cnt == 0) {
        n = -1;
    } else if (md->topics[0].err) {
        weir__errf(errstr, errstr_size, "metadata of %s: %s", topic,
                   rd_kafka_err2str(md->topics[0].err));
    } else {
        n = md->topics[0].partition_cnt;
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    return n;
}

weir_err weir__kafka_end_offsets(rd_kafka_t *rk, const char *topic, int n, int64_t *out,
                                 char *errstr, size_t errstr_size)
{
    for (int i = 0; i < n; i++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, topic, i, &lo, &hi, 10000);
        if (err) {
            weir__errf(errstr, errstr_size, "end offset of %s [%d]: %s", topic, i,
                       rd_kafka_err2str(err));
            return err == RD_KAFKA_RESP_ERR__TIMED_OUT ? WEIR_ERR_TIMEOUT : WEIR_ERR_IO;
        }
        out[i] = hi;
    }
    return WEIR_OK;
}

weir_err weir__kafka_read_range(rd_kafka_t *rk, const char *topic, const int32_t *parts,
                                const int64_t *from, size_t n, int timeout_ms, weir__kmsg_fn fn,
                                void *opaque, char *errstr, size_t errstr_size)
{
    if (n == 0)
        return WEIR_OK;
    /* The end of each partition as of now: what is produced later is not waited for. */
    int64_t *end = malloc(n * sizeof *end);
    uint8_t *done = calloc(n, 1);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
    weir_err rc = WEIR_OK;
    if (!end || !done || !list) {
        weir__errf(errstr, errstr_size, "kafka reader: out of memory");
        rc = WEIR_ERR_NOMEM;
        goto out;
    }
    size_t left = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(rk, topic, parts[i], &lo, &hi, 10000);
        if (err) {
            weir__errf(errstr, errstr_size, "reading %s [%d]: %s", topic, (int)parts[i],
                       rd_kafka_err2str(err));
            rc = err == RD_KAFKA_RESP_ERR__TIMED_OUT ? WEIR_ERR_TIMEOUT : WEIR_ERR_IO;
            goto out;
        }
        end[i] = hi;
        int64_t start = from[i] < 0 ? lo : (from[i] < lo ? lo : from[i]);
        if (start >= hi) {
            done[i] = 1;
            continue;
        }
        rd_kafka_topic_partition_list_add(list, topic, parts[i])->offset = start;
        left++;
    }
    if (!left)
        goto out;
    rd_kafka_resp_err_t aerr = rd_kafka_assign(rk, list);
    if (aerr) {
        weir__errf(errstr, errstr_size, "reading %s: %s", topic, rd_kafka_err2str(aerr));
        rc = WEIR_ERR_IO;
        goto out;
    }
    double deadline = (double)timeout_ms;
    while (left > 0) {
        if (deadline <= 0) {
            weir__errf(errstr, errstr_size, "reading %s: not done after %d s", topic,
                       timeout_ms / 1000);
            rc = WEIR_ERR_TIMEOUT;
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) {
            deadline -= 200;
            continue;
        }
        size_t i = 0;
        while (i < n && parts[i] != m->partition)
            i++;
        if (i == n || done[i]) {
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            /* Under read_committed the end may stop short of the high watermark (control
             * records, aborted data): the end of what can be read is the end. */
            done[i] = 1;
            left--;
        } else if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__TRANSPORT &&
                m->err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
                weir__errf(errstr, errstr_size, "reading %s [%d]: %s", topic, (int)m->partition,
                           rd_kafka_message_errstr(m));
                rc = WEIR_ERR_IO;
                rd_kafka_message_destroy(m);
                break;
            }
        } else {
            weir__kmsg km = {m->partition, m->offset, m->key,   m->key_len,
                             m->payload,   m->len,    (void *)m};
            fn(opaque, &km);
            if (m->offset + 1 >= end[i]) {
                done[i] = 1;
                left--;
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk, NULL);
out:
    if (list)
        rd_kafka_topic_partition_list_destroy(list);
    free(end);
    free(done);
    return rc;
}

/* ------------------------------------------------------------ the store */

struct weir_kafka_ckpt {
    rd_kafka_t *prod; /* borrowed or own */
    int own_prod;
    rd_kafka_t *reader;
    char *topic;
    int partitions;
    int keep;
    char failed[256]; /* a delivery of the own producer that failed for good */
    weir__log log;
};

static void own_on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const weir_kafka_ckpt *s = rd_kafka_opaque(rk);
    weir__kafka_log(s ? &s->log : NULL, rk, level, fac, buf);
}

static void on_own_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    weir_kafka_ckpt *s = opaque;
    if (m->err && !s->failed[0])
        snprintf(s->failed, sizeof s->failed, "checkpoint write to %s [%d] failed: %s", s->topic,
                 (int)m->partition, rd_kafka_err2str(m->err));
}

/* Asks the cluster to create the topic compacted; a cluster that cannot (librdkafka's mock)
 * or will not (no rights) leaves it to the operator. */
static void try_create(weir_kafka_ckpt *s, int partitions)
{
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(s->topic, partitions, -1, NULL, 0);
    rd_kafka_queue_t *q = rd_kafka_queue_new(s->reader);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(s->reader, RD_KAFKA_ADMIN_OP_ANY);
    if (!nt || !q || !opt)
        goto out;
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_AdminOptions_set_request_timeout(opt, 5000, NULL, 0);
    rd_kafka_CreateTopics(s->reader, &nt, 1, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 6000);
    if (ev)
        rd_kafka_event_destroy(ev);
out:
    if (opt)
        rd_kafka_AdminOptions_destroy(opt);
    if (q)
        rd_kafka_queue_destroy(q);
    if (nt)
        rd_kafka_NewTopic_destroy(nt);
}

weir_err weir_kafka_ckpt_open(const weir_conf *conf, const char *topic, int keep, int partitions,
                              void *producer, weir_kafka_ckpt **out, char *errstr,
                              size_t errstr_size)
{
    *out = NULL;
    weir_kafka_ckpt *s = calloc(1, sizeof *s);
    char why[512] = "";
    weir_err rc = WEIR_ERR_NOMEM;
    if (!s || !(s->topic = strdup(topic))) {
        weir__errf(errstr, errstr_size, "checkpoint.topic: out of memory");
        goto fail;
    }
    s->keep = keep > 0 ? keep : 1;
    s->log = weir__conf_log(conf);
    if (!(s->reader = weir__kafka_reader_new(conf, &s->log, why, sizeof why))) {
        weir__errf(errstr, errstr_size, "checkpoint.topic: %s", why);
        rc = WEIR_ERR_INVALID_ARG;
        goto fail;
    }
    if (producer) {
        s->prod = producer;
    } else {
        rd_kafka_conf_t *pc = rd_kafka_conf_new();
        static const char *const defaults[] = {"enable.idempotence", "true", "client.id",
                                               "weir-checkpoints", NULL};
        if (!pc ||
            weir_kafka_conf_apply(pc, conf, "producer", defaults, why, sizeof why) != WEIR_OK) {
            if (pc)
                rd_kafka_conf_destroy(pc);
            weir__errf(errstr, errstr_size, "checkpoint.topic: %s", why);
            rc = WEIR_ERR_INVALID_ARG;
            goto fail;
        }
        rd_kafka_conf_set_opaque(pc, s);
        rd_kafka_conf_set_log_cb(pc, own_on_log);
        rd_kafka_conf_set_dr_msg_cb(pc, on_own_delivery);
        if (!(s->prod = rd_kafka_new(RD_KAFKA_PRODUCER, pc, why, sizeof why))) {
            rd_kafka_conf_destroy(pc);
            weir__errf(errstr, errstr_size, "checkpoint.topic: %s", why);
            rc = WEIR_ERR_IO;
            goto fail;
        }
        s->own_prod = 1;
    }
    int n = weir__kafka_partition_count(s->reader, topic, why, sizeof why);
    if (n == -1) {
        try_create(s, partitions > 0 ? partitions : 1);
        n = weir__kafka_partition_count(s->reader, topic, why, sizeof why);
    }
    if (n < 0) {
        if (n == -1)
            weir__errf(errstr, errstr_size,
                       "checkpoint.topic: topic %s does not exist and cannot be created here: "
                       "create it with cleanup.policy=compact",
                       topic);
        else
            weir__errf(errstr, errstr_size, "checkpoint.topic: %s", why);
        rc = n == -1 ? WEIR_ERR_NOT_FOUND : WEIR_ERR_IO;
        goto fail;
    }
    s->partitions = n;
    *out = s;
    return WEIR_OK;
fail:
    weir_kafka_ckpt_close(s);
    return rc;
}

void weir_kafka_ckpt_close(weir_kafka_ckpt *s)
{
    if (!s)
        return;
    if (s->own_prod && s->prod) {
        rd_kafka_flush(s->prod, 10000);
        rd_kafka_destroy(s->prod);
    }
    if (s->reader) {
        rd_kafka_consumer_close(s->reader);
        rd_kafka_destroy(s->reader);
    }
    free(s->topic);
    free(s);
}

static int32_t part_of(const weir_kafka_ckpt *s, int32_t hint)
{
    return (int32_t)((uint32_t)(hint < 0 ? -hint : hint) % (uint32_t)s->partitions);
}

static weir_err put(weir_kafka_ckpt *s, int32_t part, const char *key, const void *val, size_t len,
                    char *errstr, size_t errstr_size)
{
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            s->prod, RD_KAFKA_V_TOPIC(s->topic), RD_KAFKA_V_PARTITION(part),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE((void *)val, len), RD_KAFKA_V_END);
        if (!err)
            return WEIR_OK;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            weir__errf(errstr, errstr_size, "checkpoint write to %s: %s", s->topic,
                       rd_kafka_err2str(err));
            return err == RD_KAFKA_RESP_ERR__FATAL ? WEIR_ERR_FATAL : WEIR_ERR_IO;
        }
        rd_kafka_poll(s->prod, 50);
    }
}

weir_err weir_kafka_ckpt_write(weir_kafka_ckpt *s, const char *name, int32_t hint, uint64_t seq,
                               const uint8_t *payload, size_t len, char *errstr, size_t errstr_size)
{
    /* Sequences start at 1 and only grow: 0 is what the one after 2^64-1 wraps to, and a
     * restart would then take an older checkpoint for the newest. */
    if (seq == 0) {
        weir__errf(errstr, errstr_size,
                   "checkpoint: stream %s has used every sequence number up to 2^64-1; "
                   "--reset-state starts it over",
                   name);
        return WEIR_ERR_STATE;
    }
    int32_t part = part_of(s, hint);
    unsigned slot = (unsigned)(seq % (uint64_t)s->keep);
    uint32_t count = (uint32_t)((len + CHUNK_MAX - 1) / CHUNK_MAX);
    if (count == 0)
        count = 1;
    size_t klen = strlen(name) + 40;
    char *key = malloc(klen);
    uint8_t *buf = malloc(CHUNK_HEAD + (len < CHUNK_MAX ? len : CHUNK_MAX));
    weir_err rc = WEIR_OK;
    if (!key || !buf) {
        free(key);
        free(buf);
        weir__errf(errstr, errstr_size, "checkpoint: out of memory");
        return WEIR_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < count && rc == WEIR_OK; i++) {
        size_t off = (size_t)i * CHUNK_MAX;
        size_t n = len - off < CHUNK_MAX ? len - off : CHUNK_MAX;
        memcpy(buf, "WEIRCHNK", 8);
        weir__put_le32(buf + 8, VERSION);
        weir__put_le32(buf + 12, i);
        weir__put_le32(buf + 16, count);
        weir__put_le32(buf + 20, 0);
        weir__put_le64(buf + 24, seq);
        if (n)
            memcpy(buf + CHUNK_HEAD, payload + off, n);
        snprintf(key, klen, "%s|c%u.%u", name, slot, i);
        rc = put(s, part, key, buf, CHUNK_HEAD + n, errstr, errstr_size);
    }
    if (rc == WEIR_OK) {
        uint8_t m[MANI_LEN];
        memcpy(m, "WEIRMANI", 8);
        weir__put_le32(m + 8, VERSION);
        weir__put_le32(m + 12, count);
        weir__put_le64(m + 16, seq);
        weir__put_le64(m + 24, len);
        weir__put_le64(m + 32, XXH64(payload, len, 0));
        weir__put_le64(m + 40, XXH64(m, 40, 0));
        snprintf(key, klen, "%s|m%u", name, slot);
        rc = put(s, part, key, m, sizeof m, errstr, errstr_size);
    }
    free(key);
    free(buf);
    return rc;
}

weir_err weir_kafka_ckpt_flush(weir_kafka_ckpt *s, int timeout_ms, char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t err = rd_kafka_flush(s->prod, timeout_ms);
    if (s->failed[0]) {
        weir__errf(errstr, errstr_size, "%s", s->failed);
        return WEIR_ERR_IO;
    }
    if (err) {
        weir__errf(errstr, errstr_size, "checkpoint writes to %s still undelivered after %d s",
                   s->topic, timeout_ms / 1000);
        return WEIR_ERR_TIMEOUT;
    }
    return WEIR_OK;
}

/* The newest value of each key of one stream, as the topic holds them (what compaction
 * would keep). */
typedef struct kv {
    char *key;
    uint8_t *val; /* NULL: deleted */
    size_t len;
    int64_t offset;
} kv;

typedef struct collect {
    const char *prefix; /* "<name>|" */
    size_t plen;
    kv *items;
    size_t n, cap;
    int nomem;
} collect;

static void collect_one(void *opaque, const weir__kmsg *m)
{
    collect *c = opaque;
    if (!m->key || m->key_len <= c->plen || memcmp(m->key, c->prefix, c->plen) != 0)
        return;
    size_t i = 0;
    while (i < c->n &&
           !(strlen(c->items[i].key) == m->key_len && !memcmp(c->items[i].key, m->key, m->key_len)))
        i++;
    if (i == c->n) {
        if (c->n == c->cap) {
            size_t cap = c->cap ? 2 * c->cap : 16;
            kv *ni = realloc(c->items, cap * sizeof *ni);
            if (!ni) {
                c->nomem = 1;
                return;
            }
            c->items = ni;
            c->cap = cap;
        }
        c->items[i] = (kv){strndup(m->key, m->key_len), NULL, 0, 0};
        if (!c->items[i].key) {
            c->nomem = 1;
            return;
        }
        c->n++;
    }
    free(c->items[i].val);
    c->items[i].val = NULL;
    c->items[i].len = 0;
    c->items[i].offset = m->offset;
    if (m->val) {
        c->items[i].val = malloc(m->len ? m->len : 1);
        if (!c->items[i].val) {
            c->nomem = 1;
            return;
        }
        memcpy(c->items[i].val, m->val, m->len);
        c->items[i].len = m->len;
    }
}

static void collect_free(collect *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->items[i].key);
        free(c->items[i].val);
    }
    free(c->items);
}

static const kv *find(const collect *c, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->items[i].key, key) == 0)
            return &c->items[i];
    return NULL;
}

static weir_err read_stream(weir_kafka_ckpt *s, const char *name, int32_t hint, collect *c,
                            char *prefix, char *errstr, size_t errstr_size)
{
    sprintf(prefix, "%s|", name);
    c->prefix = prefix;
    c->plen = strlen(prefix);
    int32_t part = part_of(s, hint);
    int64_t from = RD_KAFKA_OFFSET_BEGINNING;
    char why[512];
    weir_err rc = weir__kafka_read_range(s->reader, s->topic, &part, &from, 1, READ_MS, collect_one,
                                         c, why, sizeof why);
    if (rc) {
        weir__errf(errstr, errstr_size, "checkpoint.topic: %s", why);
        return rc;
    }
    if (c->nomem) {
        weir__errf(errstr, errstr_size, "checkpoint.topic: out of memory");
        return WEIR_ERR_NOMEM;
    }
    return WEIR_OK;
}

typedef struct mani {
    const kv *item;
    uint32_t chunks;
    uint64_t seq, len, hash;
} mani;

static int cmp_mani(const void *a, const void *b)
{
    const mani *x = a, *y = b;
    return (x->seq < y->seq) - (x->seq > y->seq); /* newest first */
}

/* Puts checkpoint `m` together from its chunks; NULL with the reason when it cannot. */
static uint8_t *assemble(const collect *c, const char *name, unsigned slot, const mani *m,
                         char *why, size_t why_size)
{
    uint8_t *out = malloc(m->len ? m->len : 1);
    char *key = malloc(strlen(name) + 40);
    size_t at = 0;
    if (!out || !key) {
        snprintf(why, why_size, "out of memory");
        goto fail;
    }
    for (uint32_t i = 0; i < m->chunks; i++) {
        sprintf(key, "%s|c%u.%u", name, slot, i);
        const kv *ch = find(c, key);
        if (!ch || !ch->val) {
            snprintf(why, why_size, "chunk %u of %u is missing", i, m->chunks);
            goto fail;
        }
        const uint8_t *b = ch->val;
        if (ch->len < CHUNK_HEAD || memcmp(b, "WEIRCHNK", 8) != 0) {
            snprintf(why, why_size, "chunk %u (offset %lld) is not a weir chunk", i,
                     (long long)ch->offset);
            goto fail;
        }
        if (weir__get_le32(b + 8) != VERSION) {
            snprintf(why, why_size, "chunk %u has format version %u", i, weir__get_le32(b + 8));
            goto fail;
        }
        if (weir__get_le64(b + 24) != m->seq || weir__get_le32(b + 12) != i ||
            weir__get_le32(b + 16) != m->chunks) {
            snprintf(why, why_size, "chunk %u belongs to another checkpoint (sequence %llu)", i,
                     (unsigned long long)weir__get_le64(b + 24));
            goto fail;
        }
        size_t n = ch->len - CHUNK_HEAD;
        if (n > m->len - at) {
            snprintf(why, why_size, "chunk %u is longer than the manifest says", i);
            goto fail;
        }
        memcpy(out + at, b + CHUNK_HEAD, n);
        at += n;
    }
    if (at != m->len) {
        snprintf(why, why_size, "truncated: %zu of %llu bytes", at, (unsigned long long)m->len);
        goto fail;
    }
    if (XXH64(out, at, 0) != m->hash) {
        snprintf(why, why_size, "checksum mismatch");
        goto fail;
    }
    free(key);
    return out;
fail:
    free(key);
    free(out);
    return NULL;
}

weir_err weir_kafka_ckpt_load(weir_kafka_ckpt *s, const char *name, int32_t hint,
                              weir_err (*accept)(void *opaque, const uint8_t *payload, size_t len,
                                                 char *errstr, size_t errstr_size),
                              void *opaque, uint64_t *max_seq, weir_log_fn log, void *log_arg,
                              char *errstr, size_t errstr_size)
{
    const weir__log lg = {log, log_arg};
    if (max_seq)
        *max_seq = 0;
    collect c = {0};
    char *prefix = malloc(strlen(name) + 2);
    mani *ms = NULL;
    weir_err rc;
    if (!prefix) {
        weir__errf(errstr, errstr_size, "checkpoint: out of memory");
        return WEIR_ERR_NOMEM;
    }
    if ((rc = read_stream(s, name, hint, &c, prefix, errstr, errstr_size)) != WEIR_OK)
        goto out;
    ms = calloc(c.n ? c.n : 1, sizeof *ms);
    if (!ms) {
        rc = WEIR_ERR_NOMEM;
        goto out;
    }
    size_t nm = 0, seen = 0;
    for (size_t i = 0; i < c.n; i++) {
        const kv *it = &c.items[i];
        const char *tail = it->key + c.plen;
        if (tail[0] != 'm' || !it->val)
            continue;
        seen++;
        const uint8_t *b = it->val;
        const char *bad = NULL;
        if (it->len != MANI_LEN || memcmp(b, "WEIRMANI", 8) != 0)
            bad = "not a weir manifest";
        else if (XXH64(b, 40, 0) != weir__get_le64(b + 40))
            bad = "checksum mismatch";
        else if (weir__get_le32(b + 8) != VERSION)
            bad = "unknown format version";
        if (bad) {
            weir_log_field f[3] = {WEIR_LOG_STR("checkpoint", it->key),
                                   WEIR_LOG_STR("topic", s->topic),
                                   WEIR_LOG_INT("offset", it->offset)};
            weir__logf(&lg, WEIR_LOG_WARN, f, 3,
                       "checkpoint %s (topic %s, offset %lld) refused: manifest %s", it->key,
                       s->topic, (long long)it->offset, bad);
            continue;
        }
        ms[nm] = (mani){it, weir__get_le32(b + 12), weir__get_le64(b + 16), weir__get_le64(b + 24),
                        weir__get_le64(b + 32)};
        if (max_seq && ms[nm].seq > *max_seq)
            *max_seq = ms[nm].seq;
        nm++;
    }
    qsort(ms, nm, sizeof *ms, cmp_mani);
    rc = seen ? WEIR_ERR_CORRUPT : WEIR_ERR_NOT_FOUND;
    for (size_t i = 0; i < nm; i++) {
        char why[512] = "";
        unsigned slot = (unsigned)strtoul(ms[i].item->key + c.plen + 1, NULL, 10);
        uint8_t *payload = NULL;
        weir_err a = WEIR_ERR_CORRUPT;
        if (ms[i].len > ((uint64_t)1 << 40) || ms[i].chunks > (1u << 24) ||
            (uint64_t)ms[i].chunks * CHUNK_MAX < ms[i].len)
            snprintf(why, sizeof why, "manifest declares an impossible size");
        else if ((payload = assemble(&c, name, slot, &ms[i], why, sizeof why)) != NULL)
            a = accept(opaque, payload, (size_t)ms[i].len, why, sizeof why);
        free(payload);
        if (a == WEIR_OK) {
            rc = WEIR_OK;
            goto out;
        }
        if (a != WEIR_ERR_CORRUPT && a != WEIR_ERR_UNSUPPORTED) {
            weir__errf(errstr, errstr_size, "%s", why);
            rc = a;
            goto out;
        }
        weir_log_field f[3] = {WEIR_LOG_STR("stream", name), WEIR_LOG_STR("topic", s->topic),
                               WEIR_LOG_INT("sequence", (int64_t)ms[i].seq)};
        weir__logf(&lg, WEIR_LOG_WARN, f, 3, "checkpoint %llu of %s (topic %s) refused: %s",
                   (unsigned long long)ms[i].seq, name, s->topic, why);
    }
    if (rc == WEIR_ERR_CORRUPT)
        weir__errf(errstr, errstr_size, "no usable checkpoint of %s in %s", name, s->topic);
out:
    free(ms);
    collect_free(&c);
    free(prefix);
    return rc;
}

weir_err weir_kafka_ckpt_clear(weir_kafka_ckpt *s, const char *name, int32_t hint, char *errstr,
                               size_t errstr_size)
{
    collect c = {0};
    char *prefix = malloc(strlen(name) + 2);
    if (!prefix)
        return WEIR_ERR_NOMEM;
    weir_err rc = read_stream(s, name, hint, &c, prefix, errstr, errstr_size);
    for (size_t i = 0; rc == WEIR_OK && i < c.n; i++)
        if (c.items[i].val)
            rc = put(s, part_of(s, hint), c.items[i].key, NULL, 0, errstr, errstr_size);
    collect_free(&c);
    free(prefix);
    return rc;
}
