/* A deterministic generator of raw events for tests and benchmarks. */
#ifndef WEIR_TEST_GEN_H
#define WEIR_TEST_GEN_H

#include <stdint.h>
#include <stdio.h>

typedef struct weir_gen_params {
    uint64_t seed;
    uint64_t events;      /* records to write, malformed ones included */
    uint32_t products;    /* distinct keys */
    double zipf_s;        /* 0: uniform products; otherwise the Zipf exponent */
    uint32_t users;       /* distinct users, uniform */
    uint32_t rate;        /* events per second of event time */
    int64_t start_ms;     /* event time of the first record */
    int64_t disorder_ms;  /* records arrive up to this much behind their slot */
    double late_fraction; /* share of records delayed far beyond the disorder */
    int64_t late_max_ms;  /* how far, at most */
    double bad_fraction;  /* share of malformed records */
    int mixed_encodings;  /* timestamps as ISO text, seconds and milliseconds; integer keys */
} weir_gen_params;

/* Defaults: seed 1, 10^6 events, 10,000 Zipf(1.0) products, 10^6 users, 100,000 events/s
 * from 2024-01-01T00:00:00Z, disorder 5 s, no late or malformed records, ISO timestamps. */
void weir_gen_defaults(weir_gen_params *p);

/* A splitmix64 step: the generator's only source of randomness. */
uint64_t weir_gen_next(uint64_t *state);

/* Writes p->events JSON lines to `out`. Returns 0, or -1 on a write error. */
int weir_gen_write(const weir_gen_params *p, FILE *out);

/* One generated event in structured form, for benchmarks that skip JSON. */
typedef struct weir_gen_event {
    int64_t ts;
    uint32_t product;
    uint32_t user;
} weir_gen_event;

/* Fills `out` with p->events structured events (no malformed ones). */
void weir_gen_events(const weir_gen_params *p, weir_gen_event *out);

#endif
