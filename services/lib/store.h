/* The services' store: one small interface over SQLite (the embedded default, WAL mode) and
 * PostgreSQL (libpq), so that the services' SQL and transactions are written once. Statements
 * are written with `?` placeholders and prepared once per connection (PostgreSQL receives them
 * as $1, $2, ...). Connections come from a pool: one per worker thread at a time. */
#ifndef SVC_STORE_H
#define SVC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <weir/metrics.h>

typedef struct svc_store svc_store;
typedef struct svc_conn svc_conn;

typedef enum svc_store_err {
    SVC_STORE_OK = 0,
    SVC_STORE_UNIQUE,  /* a unique constraint refused the write (409) */
    SVC_STORE_FOREIGN, /* a foreign key or check constraint refused it (409) */
    SVC_STORE_BUSY,    /* locked or unreachable: a retry may help (503) */
    SVC_STORE_FAILED,  /* anything else (500) */
} svc_store_err;

/* A statement parameter. */
typedef enum svc_type { SVC_NULL, SVC_INT, SVC_REAL, SVC_TEXT } svc_type;
typedef struct svc_val {
    svc_type type;
    int64_t i;
    double d;
    const char *s;
} svc_val;
static inline svc_val svc_val_int(int64_t i)
{
    return (svc_val){.type = SVC_INT, .i = i};
}
static inline svc_val svc_val_real(double d)
{
    return (svc_val){.type = SVC_REAL, .d = d};
}
/* A NULL string is SQL NULL. */
static inline svc_val svc_val_text(const char *s)
{
    return (svc_val){.type = s ? SVC_TEXT : SVC_NULL, .s = s};
}
#define SVC_I(x) svc_val_int(x)
#define SVC_D(x) svc_val_real(x)
#define SVC_S(x) svc_val_text(x)

/* Opens `url`: "postgresql://..." or "postgres://..." or a libpq "host=... dbname=..."
 * string for PostgreSQL, anything else is a SQLite file path. `pool` connections at most.
 * Creates the schema (products, customers, orders) when missing. NULL with a reason in
 * errstr (never holding a password) on failure. */
svc_store *svc_store_open(const char *url, unsigned pool, char *errstr, size_t errstr_size);
void svc_store_close(svc_store *st);
/* "sqlite" or "postgresql". */
const char *svc_store_kind(const svc_store *st);
/* The kind svc_store_open() would open for `url`, without opening it. */
const char *svc_store_url_kind(const char *url);
/* Registers weir_store_errors_total{kind} in `m` (which must outlive the store) and counts
 * from then on the store's failures: `unavailable` (no connection could be opened), `busy`
 * (locked or unreachable) and `failed` (other errors); constraint refusals are the client's
 * and not counted. Call before the store is shared. False when out of memory. */
bool svc_store_set_metrics(svc_store *st, weir_metrics *m);
/* Whether the store answers a trivial query now (/readyz). */
bool svc_store_ping(svc_store *st, char *why, size_t why_size);

/* Takes a connection from the pool (waits while all are in use); NULL when none can be
 * opened. Give it back with svc_conn_release(), which rolls back an open transaction. */
svc_conn *svc_conn_acquire(svc_store *st, char *errstr, size_t errstr_size);
void svc_conn_release(svc_conn *c);

/* A write transaction (SQLite: BEGIN IMMEDIATE, so that writers queue on the busy timeout
 * instead of failing when they upgrade). */
svc_store_err svc_conn_begin(svc_conn *c);
svc_store_err svc_conn_commit(svc_conn *c);
void svc_conn_rollback(svc_conn *c);

/* Runs `sql` (a string that lives as long as the program: it keys the statement cache) with
 * n parameters. Rows are then read with svc_conn_next() and the column readers, until
 * svc_conn_next() returns false; the statement is reset by the next svc_conn_exec() or by
 * svc_conn_release(). */
svc_store_err svc_conn_exec(svc_conn *c, const char *sql, const svc_val *params, size_t n);
bool svc_conn_next(svc_conn *c);
bool svc_conn_null(svc_conn *c, int col);
int64_t svc_conn_int(svc_conn *c, int col);
double svc_conn_real(svc_conn *c, int col);
/* Borrowed until the next svc_conn_next() or svc_conn_exec(); "" for NULL. */
const char *svc_conn_text(svc_conn *c, int col);
/* Rows changed by the last exec (UPDATE/DELETE/INSERT). */
int64_t svc_conn_changes(svc_conn *c);
/* The last error's message (never holding a password). */
const char *svc_conn_errmsg(svc_conn *c);

#endif
