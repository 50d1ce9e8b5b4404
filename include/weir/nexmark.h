/* The Nexmark benchmark's event generator: people, auctions and bids as Apache Beam's Nexmark
 * draws them, deterministic for a seed, in memory or as JSON lines. See docs/NEXMARK.md. */
#ifndef WEIR_NEXMARK_H
#define WEIR_NEXMARK_H

#include <stddef.h>
#include <stdint.h>

#include "weir/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Event number n (0, 1, 2, ...) is a person when n % 50 == 0, an auction when n % 50 is 1..3,
 * a bid otherwise (Beam's proportions 1 : 3 : 46). Its date_time is
 * base_time_ms + floor(n * 1000 / rate). Every field of event n is a pure function of the seed
 * and n, so an event can be drawn on its own (weir_nexmark_gen_event) or in sequence
 * (weir_nexmark_gen_next), with the same result.
 */

#define WEIR_NEXMARK_FIRST_PERSON_ID   1000
#define WEIR_NEXMARK_FIRST_AUCTION_ID  1000
#define WEIR_NEXMARK_FIRST_CATEGORY_ID 10
#define WEIR_NEXMARK_BASE_TIME_MS      1704067200000LL     /* 2024-01-01T00:00:00Z */
#define WEIR_NEXMARK_DEFAULT_RATE      10000               /* Beam's firstEventRate, events/s */
#define WEIR_NEXMARK_MAX_EVENTS        1000000000000000ULL /* 10^15 */
#define WEIR_NEXMARK_MAX_RATE          1000000000ULL       /* 10^9 events/s */
#define WEIR_NEXMARK_MAX_DISORDER_MS   86400000LL          /* one day */

typedef struct weir_nexmark_params {
    uint64_t seed;
    uint64_t events;      /* events to generate, 0..WEIR_NEXMARK_MAX_EVENTS */
    uint64_t rate;        /* events per second of event time, 1..WEIR_NEXMARK_MAX_RATE */
    int64_t base_time_ms; /* date_time of event 0 */
    int64_t disorder_ms;  /* 0: output in event-number order; see weir_nexmark_gen_next() */
    double delayed_share; /* share of events delayed when disorder_ms > 0, 0..1 */
    int strings;          /* 1: draw the string fields; 0: leave them empty (numbers unchanged) */
} weir_nexmark_params;

/* Seed 1, no events, rate WEIR_NEXMARK_DEFAULT_RATE, base time WEIR_NEXMARK_BASE_TIME_MS, no
 * disorder, delayed share 0.1, strings on. */
void weir_nexmark_params_default(weir_nexmark_params *p);

typedef enum weir_nexmark_type {
    WEIR_NEXMARK_PERSON = 0,
    WEIR_NEXMARK_AUCTION = 1,
    WEIR_NEXMARK_BID = 2,
} weir_nexmark_type;

/* A string field: not NUL-terminated, owned by the generator (see weir_nexmark_event). */
typedef struct weir_nexmark_str {
    const char *ptr;
    uint32_t len;
} weir_nexmark_str;

typedef struct weir_nexmark_person {
    int64_t id;
    weir_nexmark_str name, email_address, credit_card, city, state, extra;
} weir_nexmark_person;

typedef struct weir_nexmark_auction {
    int64_t id;
    weir_nexmark_str item_name, description;
    int64_t initial_bid, reserve; /* cents */
    int64_t expires;              /* epoch ms */
    int64_t seller, category;
    weir_nexmark_str extra;
} weir_nexmark_auction;

typedef struct weir_nexmark_bid {
    int64_t auction, bidder;
    int64_t price; /* cents */
    weir_nexmark_str channel, url, extra;
} weir_nexmark_bid;

/* One event. Its strings point into the generator that made it and stay valid until that
 * generator's next call or its destruction; copy them to keep them longer. */
typedef struct weir_nexmark_event {
    weir_nexmark_type type;
    uint64_t number;   /* n, the event's position in event-time order */
    int64_t date_time; /* epoch ms */
    union {
        weir_nexmark_person person;
        weir_nexmark_auction auction;
        weir_nexmark_bid bid;
    };
} weir_nexmark_event;

typedef struct weir_nexmark_gen weir_nexmark_gen;

/*
 * Creates a generator of `p` (copied). Returns WEIR_ERR_INVALID_ARG with one line naming the
 * bad field and its accepted values in errstr, or WEIR_ERR_NOMEM. The caller frees *out with
 * weir_nexmark_gen_destroy(). Thread-safety: one thread per generator; generators are
 * independent.
 */
weir_err weir_nexmark_gen_new(const weir_nexmark_params *p, weir_nexmark_gen **out, char *errstr,
                              size_t errstr_size);

/* Frees the generator. Accepts NULL. */
void weir_nexmark_gen_destroy(weir_nexmark_gen *g);

/*
 * The next event in output order into *ev: returns 1, or 0 after the last, or WEIR_ERR_NOMEM
 * (the generator can be called again). Without disorder the output order is n = 0, 1, 2, ...
 * With disorder_ms D > 0, each event is delayed with probability delayed_share by d, drawn
 * uniformly in 1..D ms, independently of its content: the output is ordered by
 * (date_time + d, n), d = 0 for the others. A delayed event therefore follows every event up
 * to d ms younger than itself, and no event is output after one more than D ms younger.
 */
int weir_nexmark_gen_next(weir_nexmark_gen *g, weir_nexmark_event *ev);

/* Event number n (0..WEIR_NEXMARK_MAX_EVENTS, also beyond p->events), as
 * weir_nexmark_gen_next() gives it. */
void weir_nexmark_gen_event(weir_nexmark_gen *g, uint64_t n, weir_nexmark_event *ev);

/* Events output so far by weir_nexmark_gen_next(), and how many of them were delayed. */
uint64_t weir_nexmark_gen_count(const weir_nexmark_gen *g);
uint64_t weir_nexmark_gen_delayed(const weir_nexmark_gen *g);

/* The id of the newest person and of the newest auction at event n (ids of events made at or
 * before n), as Beam's lastBase0PersonId / lastBase0AuctionId plus the first ids. The
 * auction id is WEIR_NEXMARK_FIRST_AUCTION_ID - 1 before the first auction. */
int64_t weir_nexmark_last_person_id(uint64_t n);
int64_t weir_nexmark_last_auction_id(uint64_t n);

/* A size that every generated event's JSON line fits in (weir_nexmark_event_to_json). */
#define WEIR_NEXMARK_JSON_MAX 8192

/*
 * Writes `ev` as one JSON object and a newline into buf (no NUL), fields in the order of
 * docs/NEXMARK.md, strings escaped. Returns the length, or 0 when buf is too small for the
 * event's worst case (512 bytes plus 6 per string byte; WEIR_NEXMARK_JSON_MAX always suffices
 * for generated events). Thread-safe.
 */
size_t weir_nexmark_event_to_json(const weir_nexmark_event *ev, char *buf, size_t cap);

/* The Kafka key of an event as decimal text into buf (>= 21 bytes): a bid's auction, an
 * auction's id, a person's id, so that an auction and its bids share a partition. Returns the
 * length. */
size_t weir_nexmark_event_key(const weir_nexmark_event *ev, char *buf);

#ifdef __cplusplus
}
#endif
#endif
