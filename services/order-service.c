/* order-service: orders over the shared store. An order reserves its product's stock in the
 * transaction that creates it (a conditional UPDATE, so concurrent orders for the last unit
 * cannot both win); every create and status change is produced to the `orders` topic, keyed
 * by order id, once its transaction has committed. */
#include "lib/resource.h"

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLS "id, customer_id, product_id, quantity, total_price, status, created_at"

static const char *const SQL_CUSTOMER = "SELECT id FROM customers WHERE id = ?";
static const char *const SQL_PRODUCT = "SELECT id FROM products WHERE id = ?";
static const char *const SQL_RESERVE =
    "UPDATE products SET stock_quantity = stock_quantity - ? WHERE id = ? AND stock_quantity >= ?"
    " RETURNING price";
static const char *const SQL_RETURN =
    "UPDATE products SET stock_quantity = stock_quantity + ? WHERE id = ?";
static const char *const SQL_INSERT =
    "INSERT INTO orders (customer_id, product_id, quantity, total_price, status, created_at)"
    " VALUES (?, ?, ?, ?, 'CREATED', ?) RETURNING " COLS;
static const char *const SQL_GET = "SELECT " COLS " FROM orders WHERE id = ?";
static const char *const SQL_LIST = "SELECT " COLS " FROM orders ORDER BY id LIMIT ? OFFSET ?";
static const char *const SQL_LIST_CUST =
    "SELECT " COLS " FROM orders WHERE customer_id = ? ORDER BY id LIMIT ? OFFSET ?";
/* Compare-and-set on the status read in the same transaction. */
static const char *const SQL_STATUS =
    "UPDATE orders SET status = ? WHERE id = ? AND status = ? RETURNING " COLS;

#define MAX_QUANTITY 1000000

typedef struct events {
    rd_kafka_t *rk;
    const char *topic;
    atomic_ullong failed;
    svc_producer_metrics pm;
} events;

static json_t *row(svc_conn *c)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:f, s:s, s:s}", "id", (json_int_t)svc_conn_int(c, 0),
                     "customer_id", (json_int_t)svc_conn_int(c, 1), "product_id",
                     (json_int_t)svc_conn_int(c, 2), "quantity", (json_int_t)svc_conn_int(c, 3),
                     "total_price", svc_conn_real(c, 4), "status", svc_conn_text(c, 5),
                     "created_at", svc_conn_text(c, 6));
}

/* The order event of SYSTEM.md for a committed order (its JSON as the response has it). */
static void publish(const svc_req *req, const json_t *order)
{
    events *ev = ((svc_app *)req->app)->ext;
    char ts[32], key[24];
    svc_now_iso(ts, sizeof ts);
    json_int_t id = json_integer_value(json_object_get(order, "id"));
    snprintf(key, sizeof key, "%lld", (long long)id);
    char user[24], product[24];
    snprintf(user, sizeof user, "%lld",
             (long long)json_integer_value(json_object_get(order, "customer_id")));
    snprintf(product, sizeof product, "%lld",
             (long long)json_integer_value(json_object_get(order, "product_id")));
    json_t *e = json_pack("{s:s, s:s, s:s, s:O, s:O, s:O, s:s}", "order_id", key, "user_id", user,
                          "product_id", product, "quantity", json_object_get(order, "quantity"),
                          "total_price", json_object_get(order, "total_price"), "status",
                          json_object_get(order, "status"), "timestamp", ts);
    char *text = e ? json_dumps(e, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(e);
    if (!text) {
        atomic_fetch_add(&ev->failed, 1);
        weir_counter_inc(ev->pm.produce);
        return;
    }
    rd_kafka_resp_err_t err;
    /* A full local queue waits for deliveries (bounded) rather than dropping the event. */
    for (int tries = 0; tries < 100; tries++) {
        err =
            rd_kafka_producev(ev->rk, RD_KAFKA_V_TOPIC(ev->topic), RD_KAFKA_V_KEY(key, strlen(key)),
                              RD_KAFKA_V_VALUE(text, strlen(text)),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        rd_kafka_poll(ev->rk, 50);
    }
    if (err) {
        atomic_fetch_add(&ev->failed, 1);
        weir_counter_inc(err == RD_KAFKA_RESP_ERR__QUEUE_FULL ? ev->pm.queue_full : ev->pm.produce);
    }
    rd_kafka_poll(ev->rk, 0);
    free(text);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    events *ev = opaque;
    if (m->err) {
        atomic_fetch_add(&ev->failed, 1);
        weir_counter_inc(ev->pm.delivery);
    }
}

static const svc_resource RES = {.name = "order", .plural = "orders", .row = row};

static double queue_len(void *arg)
{
    return (double)rd_kafka_outq_len(((events *)arg)->rk);
}

/* Whether `sql` finds a row for id; on a store error sets resp and returns false with *err. */
static bool exists(svc_conn *c, const char *sql, int64_t id, svc_store_err *err)
{
    svc_val p[] = {SVC_I(id)};
    *err = svc_conn_exec(c, sql, p, 1);
    return *err == SVC_STORE_OK && svc_conn_next(c);
}

static void create(const svc_req *req, svc_resp *resp)
{
    int64_t customer, product, quantity;
    json_t *o = svc_json_object(req->body, req->body_len, resp);
    if (!o || !svc_json_int(o, "customer_id", true, 1, INT64_MAX, &customer, resp) ||
        !svc_json_int(o, "product_id", true, 1, INT64_MAX, &product, resp) ||
        !svc_json_int(o, "quantity", true, 1, MAX_QUANTITY, &quantity, resp)) {
        json_decref(o);
        return;
    }
    json_decref(o);
    svc_conn *c = svc_resource_conn(req, resp);
    if (!c)
        return;
    json_t *order = NULL;
    svc_store_err e = svc_conn_begin(c);
    if (e == SVC_STORE_OK && !exists(c, SQL_CUSTOMER, customer, &e) && e == SVC_STORE_OK) {
        svc_resp_error(resp, 404, "no customer %lld", (long long)customer);
        goto out;
    }
    double price = 0;
    if (e == SVC_STORE_OK) {
        svc_val p[] = {SVC_I(quantity), SVC_I(product), SVC_I(quantity)};
        e = svc_conn_exec(c, SQL_RESERVE, p, 3);
        if (e == SVC_STORE_OK && svc_conn_next(c)) {
            price = svc_conn_real(c, 0);
        } else if (e == SVC_STORE_OK) {
            if (exists(c, SQL_PRODUCT, product, &e))
                svc_resp_error(resp, 409, "product %lld has fewer than %lld in stock",
                               (long long)product, (long long)quantity);
            else if (e == SVC_STORE_OK)
                svc_resp_error(resp, 404, "no product %lld", (long long)product);
            goto out;
        }
    }
    if (e == SVC_STORE_OK) {
        char now[32];
        svc_now_iso(now, sizeof now);
        svc_val p[] = {SVC_I(customer), SVC_I(product), SVC_I(quantity),
                       SVC_D(price * (double)quantity), SVC_S(now)};
        e = svc_conn_exec(c, SQL_INSERT, p, 5);
        if (e == SVC_STORE_OK && svc_conn_next(c))
            order = row(c);
    }
    if (e == SVC_STORE_OK && !order) {
        svc_resp_error(resp, 500, "the insert returned no row");
        goto out;
    }
    if (e == SVC_STORE_OK)
        e = svc_conn_commit(c);
    if (e != SVC_STORE_OK) {
        svc_resp_store(resp, e, c);
        goto out;
    }
    publish(req, order);
    snprintf(resp->header_name, sizeof resp->header_name, "Location");
    snprintf(resp->header_value, sizeof resp->header_value, "/orders/%lld",
             (long long)json_integer_value(json_object_get(order, "id")));
    svc_resp_json(resp, 201, order);
    order = NULL;
out:
    json_decref(order);
    svc_conn_release(c); /* rolls back what did not commit */
}

static void get_one(const svc_req *req, svc_resp *resp)
{
    int64_t id;
    if (!svc_resource_id(&RES, req, resp, &id))
        return;
    svc_val p[] = {SVC_I(id)};
    svc_resource_one(&RES, req, resp, 200, SQL_GET, p, 1, id, NULL);
}

static void list(const svc_req *req, svc_resp *resp)
{
    int64_t limit, offset, customer = 0;
    if (!svc_req_page(req, &limit, &offset, resp))
        return;
    const char *cust = svc_req_query(req, "customer_id");
    if (cust && !svc_parse_int(cust, 1, INT64_MAX, &customer)) {
        svc_resp_error(resp, 400, "customer_id must be a positive integer");
        return;
    }
    svc_val p[] = {SVC_I(customer), SVC_I(limit), SVC_I(offset)};
    if (cust)
        svc_resource_list(&RES, req, resp, SQL_LIST_CUST, p, 3, limit, offset);
    else
        svc_resource_list(&RES, req, resp, SQL_LIST, p + 1, 2, limit, offset);
}

/* CREATED -> PAID -> SHIPPED; CREATED or PAID -> CANCELLED. */
static bool allowed(const char *from, const char *to)
{
    if (strcmp(to, "PAID") == 0)
        return strcmp(from, "CREATED") == 0;
    if (strcmp(to, "SHIPPED") == 0)
        return strcmp(from, "PAID") == 0;
    if (strcmp(to, "CANCELLED") == 0)
        return strcmp(from, "CREATED") == 0 || strcmp(from, "PAID") == 0;
    return false;
}

static void patch(const svc_req *req, svc_resp *resp)
{
    int64_t id;
    const char *to = NULL;
    if (!svc_resource_id(&RES, req, resp, &id))
        return;
    json_t *o = svc_json_object(req->body, req->body_len, resp);
    if (!o || !svc_json_str(o, "status", true, 32, &to, resp)) {
        json_decref(o);
        return;
    }
    if (strcmp(to, "CREATED") && strcmp(to, "PAID") && strcmp(to, "SHIPPED") &&
        strcmp(to, "CANCELLED")) {
        svc_resp_error(resp, 400, "field 'status' must be one of PAID, SHIPPED, CANCELLED");
        json_decref(o);
        return;
    }
    svc_conn *c = svc_resource_conn(req, resp);
    if (!c) {
        json_decref(o);
        return;
    }
    json_t *order = NULL;
    char from[32] = "";
    int64_t product = 0, quantity = 0;
    svc_val g[] = {SVC_I(id)};
    svc_store_err e = svc_conn_begin(c);
    if (e == SVC_STORE_OK)
        e = svc_conn_exec(c, SQL_GET, g, 1);
    if (e == SVC_STORE_OK) {
        if (!svc_conn_next(c)) {
            svc_resp_error(resp, 404, "no order %lld", (long long)id);
            goto out;
        }
        snprintf(from, sizeof from, "%s", svc_conn_text(c, 5));
        product = svc_conn_int(c, 2), quantity = svc_conn_int(c, 3);
        if (!allowed(from, to)) {
            svc_resp_error(resp, 409, "order %lld is %s: it cannot become %s", (long long)id, from,
                           to);
            goto out;
        }
        svc_val p[] = {SVC_S(to), SVC_I(id), SVC_S(from)};
        e = svc_conn_exec(c, SQL_STATUS, p, 3);
        if (e == SVC_STORE_OK && svc_conn_next(c))
            order = row(c);
        else if (e == SVC_STORE_OK) {
            svc_resp_error(resp, 409, "order %lld changed meanwhile", (long long)id);
            goto out;
        }
    }
    if (e == SVC_STORE_OK && strcmp(to, "CANCELLED") == 0) {
        svc_val p[] = {SVC_I(quantity), SVC_I(product)};
        e = svc_conn_exec(c, SQL_RETURN, p, 2);
    }
    if (e == SVC_STORE_OK)
        e = svc_conn_commit(c);
    if (e != SVC_STORE_OK) {
        svc_resp_store(resp, e, c);
        goto out;
    }
    publish(req, order);
    svc_resp_json(resp, 200, order);
    order = NULL;
out:
    json_decref(order);
    json_decref(o);
    svc_conn_release(c);
}

static bool init(svc_app *app, const svc_config *cfg, char *errstr, size_t errstr_size)
{
    events *ev = calloc(1, sizeof *ev);
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    if (!ev || !kc) {
        snprintf(errstr, errstr_size, "out of memory");
        free(ev);
        rd_kafka_conf_destroy(kc);
        return false;
    }
    ev->topic = cfg->topic;
    const char *props[][2] = {{"bootstrap.servers", cfg->brokers},
                              {"enable.idempotence", "true"},
                              {"linger.ms", "5"},
                              {"partitioner", "murmur2_random"},
                              {"message.timeout.ms", "60000"}};
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
        if (rd_kafka_conf_set(kc, props[i][0], props[i][1], errstr, errstr_size) !=
            RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(kc);
            free(ev);
            return false;
        }
    rd_kafka_conf_set_dr_msg_cb(kc, on_delivery);
    rd_kafka_conf_set_opaque(kc, ev);
    ev->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, errstr_size);
    if (!ev->rk) {
        rd_kafka_conf_destroy(kc);
        free(ev);
        return false;
    }
    if (!svc_producer_metrics_start(app->metrics, queue_len, ev, &ev->pm)) {
        snprintf(errstr, errstr_size, "out of memory (producer series)");
        svc_producer_metrics_stop(app->metrics);
        rd_kafka_destroy(ev->rk);
        free(ev);
        return false;
    }
    app->ext = ev;
    return true;
}

static bool ready(svc_app *app, char *why, size_t why_size)
{
    events *ev = app->ext;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(ev->rk, 0, NULL, &md, 1000);
    if (err) {
        snprintf(why, why_size, "kafka: %s", rd_kafka_err2str(err));
        return false;
    }
    rd_kafka_metadata_destroy(md);
    return true;
}

static void fini(svc_app *app)
{
    events *ev = app->ext;
    if (!ev)
        return;
    if (rd_kafka_flush(ev->rk, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        weir_log_field f[] = {WEIR_LOG_INT("events", rd_kafka_outq_len(ev->rk))};
        weir_logger_log(app->log, WEIR_LOG_ERROR, "order events not delivered at exit", f, 1);
    }
    unsigned long long failed = atomic_load(&ev->failed);
    if (failed) {
        weir_log_field f[] = {WEIR_LOG_INT("events", (int64_t)failed)};
        weir_logger_log(app->log, WEIR_LOG_ERROR, "order events failed", f, 1);
    }
    svc_producer_metrics_stop(app->metrics);
    rd_kafka_destroy(ev->rk);
    free(ev);
}

static const svc_route routes[] = {
    {"POST", "/orders", create},
    {"GET", "/orders", list},
    {"GET", "/orders/{id}", get_one},
    {"PATCH", "/orders/{id}", patch},
};

int main(int argc, char **argv)
{
    const svc_spec spec = {.name = "order-service",
                           .default_listen = "127.0.0.1:8083",
                           .routes = routes,
                           .n_routes = sizeof routes / sizeof routes[0],
                           .uses_brokers = true,
                           .default_topic = "orders",
                           .init = init,
                           .ready = ready,
                           .fini = fini};
    return svc_main(&spec, argc, argv);
}
