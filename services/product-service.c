/* product-service: the catalogue, CRUD on /products over the shared store. */
#include "lib/resource.h"

#include <stdio.h>

#define COLS "id, name, description, price, category, stock_quantity, created_at"

static const char *const SQL_INSERT =
    "INSERT INTO products (name, description, price, category, stock_quantity, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?) RETURNING " COLS;
static const char *const SQL_GET = "SELECT " COLS " FROM products WHERE id = ?";
static const char *const SQL_LIST = "SELECT " COLS " FROM products ORDER BY id LIMIT ? OFFSET ?";
static const char *const SQL_LIST_CAT =
    "SELECT " COLS " FROM products WHERE category = ? ORDER BY id LIMIT ? OFFSET ?";
static const char *const SQL_UPDATE =
    "UPDATE products SET name = COALESCE(?, name), description = COALESCE(?, description),"
    " price = COALESCE(?, price), category = COALESCE(?, category),"
    " stock_quantity = COALESCE(?, stock_quantity) WHERE id = ? RETURNING " COLS;
static const char *const SQL_DELETE = "DELETE FROM products WHERE id = ?";

#define MAX_TEXT  4096
#define MAX_PRICE 1e12
#define MAX_STOCK 1000000000000LL

static json_t *row(svc_conn *c)
{
    return json_pack("{s:I, s:s, s:s, s:f, s:s, s:I, s:s}", "id", (json_int_t)svc_conn_int(c, 0),
                     "name", svc_conn_text(c, 1), "description", svc_conn_text(c, 2), "price",
                     svc_conn_real(c, 3), "category", svc_conn_text(c, 4), "stock_quantity",
                     (json_int_t)svc_conn_int(c, 5), "created_at", svc_conn_text(c, 6));
}

static const svc_resource RES = {.name = "product", .plural = "products", .row = row};

/* The fields of a product in a request body; an absent one stays NULL / unset. */
typedef struct fields {
    const char *name, *description, *category;
    double price;
    int64_t stock;
    bool has_price, has_stock;
} fields;

static bool read_fields(const json_t *o, bool create, fields *f, svc_resp *resp)
{
    double price = -1;
    int64_t stock = -1;
    if (!svc_json_str(o, "name", create, MAX_TEXT, &f->name, resp) ||
        !svc_json_str(o, "description", false, MAX_TEXT, &f->description, resp) ||
        !svc_json_num(o, "price", create, 0, MAX_PRICE, &price, resp) ||
        !svc_json_str(o, "category", false, MAX_TEXT, &f->category, resp) ||
        !svc_json_int(o, "stock_quantity", false, 0, MAX_STOCK, &stock, resp))
        return false;
    if (f->name && !*f->name) {
        svc_resp_error(resp, 400, "field 'name' must not be empty");
        return false;
    }
    f->has_price = price >= 0, f->price = price;
    f->has_stock = stock >= 0, f->stock = stock;
    return true;
}

static void create(const svc_req *req, svc_resp *resp)
{
    fields f = {0};
    json_t *o = svc_json_object(req->body, req->body_len, resp);
    if (o && read_fields(o, true, &f, resp)) {
        char now[32];
        svc_now_iso(now, sizeof now);
        svc_val p[] = {SVC_S(f.name),
                       SVC_S(f.description ? f.description : ""),
                       SVC_D(f.price),
                       SVC_S(f.category ? f.category : ""),
                       SVC_I(f.has_stock ? f.stock : 0),
                       SVC_S(now)};
        svc_resource_one(&RES, req, resp, 201, SQL_INSERT, p, 6, 0, NULL);
    }
    json_decref(o);
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
    int64_t limit, offset;
    if (!svc_req_page(req, &limit, &offset, resp))
        return;
    const char *cat = svc_req_query(req, "category");
    svc_val p[] = {SVC_S(cat), SVC_I(limit), SVC_I(offset)};
    if (cat)
        svc_resource_list(&RES, req, resp, SQL_LIST_CAT, p, 3, limit, offset);
    else
        svc_resource_list(&RES, req, resp, SQL_LIST, p + 1, 2, limit, offset);
}

static void update(const svc_req *req, svc_resp *resp)
{
    int64_t id;
    fields f = {0};
    if (!svc_resource_id(&RES, req, resp, &id))
        return;
    json_t *o = svc_json_object(req->body, req->body_len, resp);
    if (o && read_fields(o, false, &f, resp)) {
        svc_val p[] = {SVC_S(f.name),
                       SVC_S(f.description),
                       f.has_price ? SVC_D(f.price) : SVC_S(NULL),
                       SVC_S(f.category),
                       f.has_stock ? SVC_I(f.stock) : SVC_S(NULL),
                       SVC_I(id)};
        svc_resource_one(&RES, req, resp, 200, SQL_UPDATE, p, 6, id, NULL);
    }
    json_decref(o);
}

static void delete (const svc_req *req, svc_resp *resp)
{
    svc_resource_delete(&RES, req, resp, SQL_DELETE, "orders");
}

static const svc_route routes[] = {
    {"POST", "/products", create},        {"GET", "/products", list},
    {"GET", "/products/{id}", get_one},   {"PUT", "/products/{id}", update},
    {"DELETE", "/products/{id}", delete},
};

int main(int argc, char **argv)
{
    const svc_spec spec = {.name = "product-service",
                           .default_listen = "127.0.0.1:8081",
                           .routes = routes,
                           .n_routes = sizeof routes / sizeof routes[0]};
    return svc_main(&spec, argc, argv);
}
