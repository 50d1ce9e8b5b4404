/* The store's connection pool and the backend-independent calls: a fixed number of
 * connections opened on demand, handed to one thread at a time. */
#include "store_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct svc_conn {
    svc_store *st;
    void *h;
    bool in_tx;
    bool busy;
};

struct svc_store {
    const svc_backend *be;
    char *url;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned n;
    svc_conn *conns;
    weir_counter *unavailable, *busy, *failed; /* NULL until svc_store_set_metrics() */
};

static svc_store_err counted(svc_store *st, svc_store_err e)
{
    if (e == SVC_STORE_BUSY && st->busy)
        weir_counter_inc(st->busy);
    else if (e == SVC_STORE_FAILED && st->failed)
        weir_counter_inc(st->failed);
    return e;
}

static bool is_pg(const char *url)
{
    return strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0 ||
           strchr(url, '=') != NULL;
}

static svc_store_err create_schema(svc_store *st, char *errstr, size_t errstr_size)
{
    svc_conn *c = svc_conn_acquire(st, errstr, errstr_size);
    if (!c)
        return SVC_STORE_BUSY;
    svc_store_err e = svc_conn_begin(c);
    for (const char *const *q = st->be->schema; e == SVC_STORE_OK && *q; q++)
        e = st->be->simple(c->h, *q);
    if (e == SVC_STORE_OK)
        e = svc_conn_commit(c);
    if (e != SVC_STORE_OK)
        snprintf(errstr, errstr_size, "cannot create the schema: %s", st->be->errmsg(c->h));
    svc_conn_release(c);
    return e;
}

svc_store *svc_store_open(const char *url, unsigned pool, char *errstr, size_t errstr_size)
{
    svc_store *st = calloc(1, sizeof *st);
    if (!st || !(st->url = strdup(url)) ||
        !(st->conns = calloc(pool ? pool : 1, sizeof(svc_conn)))) {
        snprintf(errstr, errstr_size, "out of memory");
        svc_store_close(st);
        return NULL;
    }
    st->be = is_pg(url) ? &svc__pg_backend : &svc__sqlite_backend;
    st->n = pool ? pool : 1;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    for (unsigned i = 0; i < st->n; i++)
        st->conns[i].st = st;
    if (create_schema(st, errstr, errstr_size) != SVC_STORE_OK) {
        svc_store_close(st);
        return NULL;
    }
    return st;
}

void svc_store_close(svc_store *st)
{
    if (!st)
        return;
    if (st->conns) {
        for (unsigned i = 0; i < st->n; i++)
            if (st->conns[i].h)
                st->be->disconnect(st->conns[i].h);
        pthread_mutex_destroy(&st->mu);
        pthread_cond_destroy(&st->cv);
    }
    free(st->conns);
    free(st->url);
    free(st);
}

const char *svc_store_kind(const svc_store *st)
{
    return st->be->kind;
}

bool svc_store_ping(svc_store *st, char *why, size_t why_size)
{
    svc_conn *c = svc_conn_acquire(st, why, why_size);
    if (!c)
        return false;
    svc_store_err e = svc_conn_exec(c, "SELECT 1", NULL, 0);
    if (e != SVC_STORE_OK)
        snprintf(why, why_size, "%s", svc_conn_errmsg(c));
    svc_conn_release(c);
    return e == SVC_STORE_OK;
}

const char *svc_store_url_kind(const char *url)
{
    return is_pg(url) ? svc__pg_backend.kind : svc__sqlite_backend.kind;
}

bool svc_store_set_metrics(svc_store *st, weir_metrics *m)
{
    static const char *const help = "Failed operations of the service's store, by kind.";
    return weir_metrics_counter(m, "weir_store_errors_total", help,
                                (const char *const[]){"kind", "unavailable", NULL},
                                &st->unavailable) == WEIR_OK &&
           weir_metrics_counter(m, "weir_store_errors_total", help,
                                (const char *const[]){"kind", "busy", NULL},
                                &st->busy) == WEIR_OK &&
           weir_metrics_counter(m, "weir_store_errors_total", help,
                                (const char *const[]){"kind", "failed", NULL},
                                &st->failed) == WEIR_OK;
}

svc_conn *svc_conn_acquire(svc_store *st, char *errstr, size_t errstr_size)
{
    pthread_mutex_lock(&st->mu);
    svc_conn *c = NULL;
    for (;;) {
        /* Prefer an open connection, then a slot to open one in. */
        for (unsigned i = 0; i < st->n && !c; i++)
            if (!st->conns[i].busy && st->conns[i].h)
                c = &st->conns[i];
        for (unsigned i = 0; i < st->n && !c; i++)
            if (!st->conns[i].busy)
                c = &st->conns[i];
        if (c)
            break;
        pthread_cond_wait(&st->cv, &st->mu);
    }
    c->busy = true;
    pthread_mutex_unlock(&st->mu);
    if (!c->h) {
        c->h = st->be->connect(st->url, errstr, errstr_size);
        if (!c->h) {
            if (st->unavailable)
                weir_counter_inc(st->unavailable);
            pthread_mutex_lock(&st->mu);
            c->busy = false;
            pthread_cond_signal(&st->cv);
            pthread_mutex_unlock(&st->mu);
            return NULL;
        }
    }
    return c;
}

void svc_conn_release(svc_conn *c)
{
    if (!c)
        return;
    svc_store *st = c->st;
    st->be->reset(c->h);
    if (c->in_tx)
        svc_conn_rollback(c);
    if (st->be->broken(c->h)) {
        st->be->disconnect(c->h);
        c->h = NULL;
    }
    pthread_mutex_lock(&st->mu);
    c->busy = false;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

svc_store_err svc_conn_begin(svc_conn *c)
{
    c->st->be->reset(c->h);
    svc_store_err e = counted(c->st, c->st->be->simple(c->h, c->st->be->begin_sql));
    c->in_tx = e == SVC_STORE_OK;
    return e;
}

svc_store_err svc_conn_commit(svc_conn *c)
{
    c->st->be->reset(c->h);
    svc_store_err e = counted(c->st, c->st->be->simple(c->h, "COMMIT"));
    if (e == SVC_STORE_OK)
        c->in_tx = false;
    return e;
}

void svc_conn_rollback(svc_conn *c)
{
    c->st->be->reset(c->h);
    c->st->be->simple(c->h, "ROLLBACK");
    c->in_tx = false;
}

svc_store_err svc_conn_exec(svc_conn *c, const char *sql, const svc_val *params, size_t n)
{
    return counted(c->st, c->st->be->exec(c->h, sql, params, n));
}

bool svc_conn_next(svc_conn *c)
{
    return c->st->be->next(c->h);
}

bool svc_conn_null(svc_conn *c, int col)
{
    return c->st->be->null(c->h, col);
}

int64_t svc_conn_int(svc_conn *c, int col)
{
    return strtoll(c->st->be->text(c->h, col), NULL, 10);
}

double svc_conn_real(svc_conn *c, int col)
{
    return strtod(c->st->be->text(c->h, col), NULL);
}

const char *svc_conn_text(svc_conn *c, int col)
{
    return c->st->be->text(c->h, col);
}

int64_t svc_conn_changes(svc_conn *c)
{
    return c->st->be->changes(c->h);
}

const char *svc_conn_errmsg(svc_conn *c)
{
    return c->st->be->errmsg(c->h);
}
