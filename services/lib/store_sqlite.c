/* The SQLite store backend: WAL mode so that the services' processes share one file, a busy
 * timeout so that writers queue, foreign keys on, statements prepared once per connection. */
#include "store_int.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE 48

typedef struct lite {
    sqlite3 *db;
    struct {
        const char *sql;
        sqlite3_stmt *st;
    } cache[CACHE];
    size_t n_cache;
    sqlite3_stmt *cur; /* the statement being read */
    int rc;            /* its last sqlite3_step() result */
    bool pending;      /* a row read by exec, not yet handed out by next */
    char err[256];
} lite;

static const char *const schema[] = {
    "CREATE TABLE IF NOT EXISTS products ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " name TEXT NOT NULL,"
    " description TEXT NOT NULL DEFAULT '',"
    " price REAL NOT NULL CHECK (price >= 0),"
    " category TEXT NOT NULL DEFAULT '',"
    " stock_quantity INTEGER NOT NULL DEFAULT 0 CHECK (stock_quantity >= 0),"
    " created_at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS products_category ON products (category, id)",
    "CREATE TABLE IF NOT EXISTS customers ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " name TEXT NOT NULL,"
    " email TEXT NOT NULL UNIQUE,"
    " phone TEXT NOT NULL DEFAULT '',"
    " address TEXT NOT NULL DEFAULT '',"
    " created_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS orders ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " customer_id INTEGER NOT NULL REFERENCES customers (id),"
    " product_id INTEGER NOT NULL REFERENCES products (id),"
    " quantity INTEGER NOT NULL CHECK (quantity > 0),"
    " total_price REAL NOT NULL,"
    " status TEXT NOT NULL,"
    " created_at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS orders_customer ON orders (customer_id, id)",
    "CREATE INDEX IF NOT EXISTS orders_product ON orders (product_id)",
    NULL,
};

static svc_store_err classify(lite *l, int rc)
{
    snprintf(l->err, sizeof l->err, "%s", sqlite3_errmsg(l->db));
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY: return SVC_STORE_UNIQUE;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_NOTNULL: return SVC_STORE_FOREIGN;
    }
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return SVC_STORE_BUSY;
    case SQLITE_CONSTRAINT: return SVC_STORE_FOREIGN;
    }
    return SVC_STORE_FAILED;
}

static void lite_reset(void *h)
{
    lite *l = h;
    if (l->cur)
        sqlite3_reset(l->cur);
    l->cur = NULL;
    l->pending = false;
}

static void lite_disconnect(void *h)
{
    lite *l = h;
    if (!l)
        return;
    for (size_t i = 0; i < l->n_cache; i++)
        sqlite3_finalize(l->cache[i].st);
    sqlite3_close(l->db);
    free(l);
}

static svc_store_err lite_simple(void *h, const char *sql)
{
    lite *l = h;
    lite_reset(l);
    int rc = sqlite3_exec(l->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? SVC_STORE_OK : classify(l, sqlite3_extended_errcode(l->db));
}

static void *lite_connect(const char *path, char *errstr, size_t errstr_size)
{
    lite *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    int rc = sqlite3_open_v2(
        path, &l->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_extended_result_codes(l->db, 1);
        sqlite3_busy_timeout(l->db, 5000);
        if (lite_simple(l, "PRAGMA journal_mode=WAL") != SVC_STORE_OK ||
            lite_simple(l, "PRAGMA synchronous=NORMAL") != SVC_STORE_OK ||
            lite_simple(l, "PRAGMA foreign_keys=ON") != SVC_STORE_OK)
            rc = SQLITE_ERROR;
    }
    if (rc != SQLITE_OK) {
        snprintf(errstr, errstr_size, "sqlite %s: %s", path,
                 l->db ? sqlite3_errmsg(l->db) : "cannot open");
        lite_disconnect(l);
        return NULL;
    }
    return l;
}

static svc_store_err lite_exec(void *h, const char *sql, const svc_val *p, size_t n)
{
    lite *l = h;
    lite_reset(l);
    sqlite3_stmt *st = NULL;
    for (size_t i = 0; i < l->n_cache && !st; i++)
        if (l->cache[i].sql == sql)
            st = l->cache[i].st;
    if (!st) {
        int rc = sqlite3_prepare_v3(l->db, sql, -1,
                                    l->n_cache < CACHE ? SQLITE_PREPARE_PERSISTENT : 0, &st, NULL);
        if (rc != SQLITE_OK)
            return classify(l, rc);
        if (l->n_cache < CACHE) {
            l->cache[l->n_cache].sql = sql;
            l->cache[l->n_cache++].st = st;
        } else {
            snprintf(l->err, sizeof l->err, "statement cache full");
            sqlite3_finalize(st);
            return SVC_STORE_FAILED;
        }
    }
    sqlite3_clear_bindings(st);
    for (size_t i = 0; i < n; i++) {
        int c = (int)i + 1, rc = SQLITE_OK;
        switch (p[i].type) {
        case SVC_NULL: rc = sqlite3_bind_null(st, c); break;
        case SVC_INT: rc = sqlite3_bind_int64(st, c, p[i].i); break;
        case SVC_REAL: rc = sqlite3_bind_double(st, c, p[i].d); break;
        case SVC_TEXT: rc = sqlite3_bind_text(st, c, p[i].s, -1, SQLITE_STATIC); break;
        }
        if (rc != SQLITE_OK)
            return classify(l, rc);
    }
    l->cur = st;
    l->rc = sqlite3_step(st);
    if (l->rc == SQLITE_ROW) {
        l->pending = true;
        return SVC_STORE_OK;
    }
    if (l->rc == SQLITE_DONE)
        return SVC_STORE_OK;
    svc_store_err e = classify(l, sqlite3_extended_errcode(l->db));
    lite_reset(l);
    return e;
}

static bool lite_next(void *h)
{
    lite *l = h;
    if (!l->cur)
        return false;
    if (l->pending) {
        l->pending = false;
        return true;
    }
    if (l->rc != SQLITE_ROW)
        return false;
    l->rc = sqlite3_step(l->cur);
    return l->rc == SQLITE_ROW;
}

static bool lite_null(void *h, int col)
{
    lite *l = h;
    return sqlite3_column_type(l->cur, col) == SQLITE_NULL;
}

static const char *lite_text(void *h, int col)
{
    lite *l = h;
    const unsigned char *t = sqlite3_column_text(l->cur, col);
    return t ? (const char *)t : "";
}

static int64_t lite_changes(void *h)
{
    return sqlite3_changes64(((lite *)h)->db);
}

static const char *lite_errmsg(void *h)
{
    return ((lite *)h)->err;
}

static bool lite_broken(void *h)
{
    (void)h;
    return false;
}

const svc_backend svc__sqlite_backend = {
    .kind = "sqlite",
    .begin_sql = "BEGIN IMMEDIATE",
    .connect = lite_connect,
    .disconnect = lite_disconnect,
    .simple = lite_simple,
    .exec = lite_exec,
    .next = lite_next,
    .null = lite_null,
    .text = lite_text,
    .changes = lite_changes,
    .reset = lite_reset,
    .errmsg = lite_errmsg,
    .broken = lite_broken,
    .schema = schema,
};
