/* libFuzzer target: the held-results log of a Kafka-mode checkpoint (runtime/held_sink.h),
 * whose entries a restore produces to the results topic. Any bytes walk to an end or stop
 * as malformed; a log that walks whole is accepted with exactly its count of entries and
 * written back entry by entry gives the same bytes. */
#include "fuzz.h"
#include "runtime/held_sink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *log = fz_dup(data, size);
    weir__held_entry e;
    int bad = 0;
    uint64_t n = 0;
    fz_buf again = {0};
    for (size_t at = 0, next; (next = weir__held_next(log, size, at, &e, &bad)) != 0; at = next) {
        CHECK(next > at && next <= size);
        CHECK(e.len <= size && e.val >= (const char *)log && e.val + e.len <= (char *)log + size);
        uint8_t has_key = e.key != NULL;
        fz_add(&again, &has_key, 1);
        fz_le32(&again, (uint32_t)e.key_len);
        if (e.key)
            fz_add(&again, e.key, e.key_len);
        fz_le32(&again, (uint32_t)e.len);
        fz_add(&again, e.val, e.len);
        fz_le64(&again, (uint64_t)e.ts);
        n++;
    }
    weir__held *h = weir__held_new("product_id", NULL, 0);
    CHECK(h);
    if (!bad) {
        /* The entries written back are the log itself. */
        CHECK(again.len == size && (!size || memcmp(again.p, log, size) == 0));
        CHECK(weir__held_set(h, log, size, n + 1) == WEIR_ERR_CORRUPT);
        CHECK(weir__held_set(h, log, size, n) == WEIR_OK);
        CHECK(h->count == n && h->len == size && (!size || !memcmp(h->log, log, size)));
    } else {
        CHECK(weir__held_set(h, log, size, n) == WEIR_ERR_CORRUPT);
        CHECK(h->count == 0 && h->len == 0);
    }
    weir_sink_destroy(&h->base);
    free(again.p);
    free(log);
    return 0;
}
