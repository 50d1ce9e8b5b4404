/* What a store backend (SQLite, PostgreSQL) provides to the pool in store.c. */
#ifndef SVC_STORE_INT_H
#define SVC_STORE_INT_H

#include "store.h"

typedef struct svc_backend {
    const char *kind;
    const char *begin_sql; /* the write transaction's BEGIN */
    /* A connection handle, or NULL with a reason (without a password) in errstr. */
    void *(*connect)(const char *url, char *errstr, size_t errstr_size);
    void (*disconnect)(void *h);
    /* Runs a statement without parameters or rows (DDL, transaction control). */
    svc_store_err (*simple)(void *h, const char *sql);
    svc_store_err (*exec)(void *h, const char *sql, const svc_val *p, size_t n);
    bool (*next)(void *h);
    bool (*null)(void *h, int col);
    const char *(*text)(void *h, int col);
    int64_t (*changes)(void *h);
    void (*reset)(void *h);
    const char *(*errmsg)(void *h);
    /* Whether the connection is beyond repair (then the pool drops it). */
    bool (*broken)(void *h);
    const char *const *schema; /* DDL run in one transaction at open, NULL-terminated */
} svc_backend;

extern const svc_backend svc__sqlite_backend;
extern const svc_backend svc__pg_backend;

#endif
