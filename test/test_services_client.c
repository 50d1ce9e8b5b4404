/* The services' HTTP client against the services' own server, in process: keep-alive reuse,
 * answers passed through, and every upstream failure as its status: 503 down, 504 too slow,
 * 502 not HTTP or not JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../services/lib/client.h"
#include "../services/lib/h1.h"
#include "../services/lib/http.h"
#include <curl/curl.h>

static void h_ok(const svc_req *req, svc_resp *resp)
{
    (void)req;
    svc_resp_json(resp, 200, json_pack("{s:b}", "ok", 1));
}

static void h_slow(const svc_req *req, svc_resp *resp)
{
    (void)req;
    struct timespec t = {.tv_nsec = 600 * 1000 * 1000};
    nanosleep(&t, NULL);
    svc_resp_json(resp, 200, json_pack("{s:b}", "slow", 1));
}

static void h_echo(const svc_req *req, svc_resp *resp)
{
    json_t *o = svc_json_object(req->body, req->body_len, resp);
    if (o)
        svc_resp_json(resp, 201, o);
}

static void h_gone(const svc_req *req, svc_resp *resp)
{
    (void)req;
    svc_resp_json(resp, 204, NULL);
}

static const svc_route routes[] = {
    {"GET", "/ok", h_ok},
    {"GET", "/slow", h_slow},
    {"POST", "/echo", h_echo},
    {"DELETE", "/gone", h_gone},
};

static svc_server *start(char *url, size_t size)
{
    char err[256];
    svc_server_opts o = {.listen = "127.0.0.1:0", .routes = routes, .n_routes = 4, .threads = 2};
    svc_server *s = svc_server_start(&o, err, sizeof err);
    assert_non_null(s);
    snprintf(url, size, "http://%s", svc_server_address(s));
    return s;
}

static void test_calls_and_keepalive(void **state)
{
    (void)state;
    char url[128], err[256];
    svc_server *s = start(url, sizeof url);
    svc_client *c = svc_client_new(url, 1, 1000, 2000, err, sizeof err);
    assert_non_null(c);
    for (int i = 0; i < 5; i++) {
        svc_resp r = {0};
        assert_true(svc_client_call(c, "GET", "/ok", NULL, 0, &r));
        assert_int_equal(r.status, 200);
        assert_true(json_is_true(json_object_get(r.json, "ok")));
        json_decref(r.json);
    }
    /* Five calls, one connection. */
    assert_int_equal(svc_client_connects(c), 1);
    svc_resp r = {0};
    assert_true(svc_client_call(c, "POST", "/echo", "{\"a\":\"\xc3\xa9\"}", 10, &r));
    assert_int_equal(r.status, 201);
    assert_string_equal(json_string_value(json_object_get(r.json, "a")), "\xc3\xa9");
    json_decref(r.json);
    /* The upstream's own errors pass through as they are. */
    r = (svc_resp){0};
    assert_true(svc_client_call(c, "GET", "/nope", NULL, 0, &r));
    assert_int_equal(r.status, 404);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), "not_found");
    json_decref(r.json);
    r = (svc_resp){0};
    assert_true(svc_client_call(c, "DELETE", "/gone", NULL, 0, &r));
    assert_int_equal(r.status, 204);
    assert_null(r.json);
    assert_int_equal(svc_client_connects(c), 1);
    svc_client_destroy(c);
    assert_int_equal(svc_server_drain(s, 2000), 0);
    svc_server_destroy(s);
}

static void test_timeout_is_504(void **state)
{
    (void)state;
    char url[128], err[256];
    svc_server *s = start(url, sizeof url);
    svc_client *c = svc_client_new(url, 2, 1000, 200, err, sizeof err);
    svc_resp r = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_false(svc_client_call(c, "GET", "/slow", NULL, 0, &r));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(r.status, 504);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), "gateway_timeout");
    json_decref(r.json);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    assert_true(ms < 500);
    /* The client still works after a timeout. */
    r = (svc_resp){0};
    assert_true(svc_client_call(c, "GET", "/ok", NULL, 0, &r));
    assert_int_equal(r.status, 200);
    json_decref(r.json);
    svc_client_destroy(c);
    svc_server_drain(s, 2000);
    svc_server_destroy(s);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_down_is_503(void **state)
{
    (void)state;
    char url[128], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", free_port());
    svc_client *c = svc_client_new(url, 1, 500, 1000, err, sizeof err);
    svc_resp r = {0};
    assert_false(svc_client_call(c, "GET", "/ok", NULL, 0, &r));
    assert_int_equal(r.status, 503);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), "service_unavailable");
    json_decref(r.json);
    svc_client_destroy(c);
}

/* A peer that answers each connection with `answer` and closes it. */
typedef struct raw_peer {
    int fd;
    const char *answer;
    int conns;
} raw_peer;

static void *raw_serve(void *arg)
{
    raw_peer *p = arg;
    for (int i = 0; i < p->conns; i++) {
        int c = accept(p->fd, NULL, NULL);
        if (c < 0)
            break;
        char req[4096];
        ssize_t n = recv(c, req, sizeof req, 0);
        (void)n;
        if (*p->answer && send(c, p->answer, strlen(p->answer), MSG_NOSIGNAL) < 0)
            break;
        close(c);
    }
    return NULL;
}

/* A listening socket on a free loopback port; its URL in url. */
static int listen_loopback(char *url, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    snprintf(url, size, "http://127.0.0.1:%d", ntohs(a.sin_port));
    return fd;
}

/* Starts a raw peer answering `conns` connections; its URL in url. */
static pthread_t peer_start(raw_peer *p, char *url, size_t size)
{
    p->fd = listen_loopback(url, size);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, raw_serve, p), 0);
    return t;
}

/* Chunked answers are decoded, whatever their chunks' sizes and extensions. */
static void test_chunked_answer(void **state)
{
    (void)state;
    raw_peer p = {.answer = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n"
                            "Location: /x/7\r\nConnection: close\r\n\r\n"
                            "4\r\n{\"a\"\r\n3;ext=1\r\n:12\r\nA\r\n3456789012\r\n1\r\n}\r\n"
                            "0\r\nX-Trailer: y\r\n\r\n",
                  .conns = 1};
    char url[128], err[256];
    pthread_t t = peer_start(&p, url, sizeof url);
    svc_client *c = svc_client_new(url, 1, 500, 1000, err, sizeof err);
    svc_resp r = {0};
    assert_true(svc_client_call(c, "GET", "/x", NULL, 0, &r));
    assert_int_equal(r.status, 201);
    assert_int_equal(json_integer_value(json_object_get(r.json, "a")), 123456789012LL);
    assert_string_equal(r.header_name, "Location");
    assert_string_equal(r.header_value, "/x/7");
    json_decref(r.json);
    svc_client_destroy(c);
    pthread_join(t, NULL);
    close(p.fd);
}

/* An upstream that closes a kept-alive connection between two calls: the second call opens
 * a new one instead of failing. */
static void test_closed_keepalive_reconnects(void **state)
{
    (void)state;
    raw_peer p = {.answer = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n{\"n\": 1}", .conns = 2};
    char url[128], err[256];
    pthread_t t = peer_start(&p, url, sizeof url);
    svc_client *c = svc_client_new(url, 1, 500, 1000, err, sizeof err);
    for (int i = 0; i < 2; i++) {
        svc_resp r = {0};
        assert_true(svc_client_call(c, "POST", "/x", "{}", 2, &r));
        assert_int_equal(r.status, 200);
        assert_int_equal(json_integer_value(json_object_get(r.json, "n")), 1);
        json_decref(r.json);
        /* The peer has closed by now; the client learns it only when it sends again. */
        struct timespec pause = {.tv_nsec = 50 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    assert_int_equal(svc_client_connects(c), 2);
    svc_client_destroy(c);
    pthread_join(t, NULL);
    close(p.fd);
}

static void bad_peer(const char *answer, const char *needle)
{
    raw_peer p = {.answer = answer, .conns = 1};
    char url[128], err[256];
    pthread_t t = peer_start(&p, url, sizeof url);
    svc_client *c = svc_client_new(url, 1, 500, 1000, err, sizeof err);
    svc_resp r = {0};
    assert_false(svc_client_call(c, "GET", "/x", NULL, 0, &r));
    assert_int_equal(r.status, 502);
    const char *detail = json_string_value(json_object_get(r.json, "detail"));
    if (!strstr(detail, needle))
        fail_msg("detail '%s' lacks '%s'", detail, needle);
    json_decref(r.json);
    svc_client_destroy(c);
    pthread_join(t, NULL);
    close(p.fd);
}

static void test_bad_answers_are_502(void **state)
{
    (void)state;
    bad_peer("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello", "not JSON");
    bad_peer("", "");                        /* closed without a word */
    bad_peer("SSH-2.0-OpenSSH\r\n\r\n", ""); /* not HTTP */
    bad_peer("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"cut\":", "cut short");
    bad_peer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", "chunk");
    bad_peer("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n{}", "too large");
}

/* A peer that plays `steps` in order, one per request: each step waits delay_ms after reading
 * its request, then sends answer (and keeps the connection), or closes the connection without
 * a word when answer is NULL. A connection the client closed moves the step to the next one. */
typedef struct step {
    int delay_ms;
    const char *answer;
} step;

typedef struct script_peer {
    int fd;
    const step *steps;
    int n;
    int requests; /* requests read */
} script_peer;

static void *script_serve(void *arg)
{
    script_peer *p = arg;
    int c = -1;
    for (int i = 0; i < p->n;) {
        if (c < 0 && (c = accept(p->fd, NULL, NULL)) < 0)
            break;
        char req[4096];
        ssize_t got = recv(c, req, sizeof req, 0);
        if (got <= 0) {
            close(c);
            c = -1;
            continue;
        }
        p->requests++;
        struct timespec t = {.tv_sec = p->steps[i].delay_ms / 1000,
                             .tv_nsec = (long)(p->steps[i].delay_ms % 1000) * 1000000};
        nanosleep(&t, NULL);
        if (!p->steps[i].answer ||
            send(c, p->steps[i].answer, strlen(p->steps[i].answer), MSG_NOSIGNAL) < 0) {
            close(c);
            c = -1;
        }
        i++;
    }
    if (c >= 0)
        close(c);
    return NULL;
}

static pthread_t script_start(script_peer *p, char *url, size_t size)
{
    p->fd = listen_loopback(url, size);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, script_serve, p), 0);
    return t;
}

#define KEPT "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n{\"n\": 1}"

/* A folded header or a bare LF would hide a header from this reader but not from others. */
static void test_ambiguous_heads_are_502(void **state)
{
    (void)state;
    bad_peer("HTTP/1.1 200 OK\r\nX-A: 1\r\n Content-Length: 9\r\nContent-Length: 2\r\n\r\n{}",
             "folded");
    bad_peer("HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 2\r\n\r\n{}", "bare LF");
}

/* A POST whose kept-alive connection closes after the request went out may have been
 * processed: it fails (502) rather than being sent a second time. */
static void test_post_not_retried_after_sent(void **state)
{
    (void)state;
    /* Static: a failed assertion leaves the peer's thread running. */
    static const step steps[] = {{0, KEPT}, {0, NULL}, {0, KEPT}};
    static script_peer p;
    p = (script_peer){.steps = steps, .n = 3};
    char url[128], err[256];
    pthread_t t = script_start(&p, url, sizeof url);
    svc_client *c = svc_client_new(url, 1, 500, 1000, err, sizeof err);
    svc_resp r = {0};
    assert_true(svc_client_call(c, "POST", "/x", "{}", 2, &r));
    json_decref(r.json);
    r = (svc_resp){0};
    assert_false(svc_client_call(c, "POST", "/x", "{}", 2, &r));
    assert_int_equal(r.status, 502);
    json_decref(r.json);
    assert_int_equal(p.requests, 2);
    /* A GET may be sent again: it opens a new connection and is answered. */
    r = (svc_resp){0};
    assert_true(svc_client_call(c, "GET", "/x", NULL, 0, &r));
    assert_int_equal(r.status, 200);
    json_decref(r.json);
    assert_int_equal(p.requests, 3);
    svc_client_destroy(c);
    pthread_join(t, NULL);
    close(p.fd);
}

/* The timeout bounds the whole call, a retry on a new connection included. */
static void test_timeout_bounds_retry(void **state)
{
    (void)state;
    /* Static: a failed assertion leaves the peer's thread running. */
    static const step steps[] = {{0, KEPT}, {250, NULL}, {1000, KEPT}};
    static script_peer p;
    p = (script_peer){.steps = steps, .n = 3};
    char url[128], err[256];
    pthread_t t = script_start(&p, url, sizeof url);
    svc_client *c = svc_client_new(url, 1, 500, 300, err, sizeof err);
    svc_resp r = {0};
    assert_true(svc_client_call(c, "GET", "/x", NULL, 0, &r));
    json_decref(r.json);
    r = (svc_resp){0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_false(svc_client_call(c, "GET", "/x", NULL, 0, &r));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(r.status, 504);
    json_decref(r.json);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    if (ms > 420)
        fail_msg("a 300 ms call took %.0f ms", ms);
    svc_client_destroy(c);
    pthread_join(t, NULL);
    close(p.fd);
}

/* An answer with both Transfer-Encoding and Content-Length is read as chunked, and its
 * connection is not used again (RFC 9112 6.3: the framing is in doubt). */
static void test_te_and_length_drops_connection(void **state)
{
    (void)state;
    /* Static: a failed assertion leaves the peer's thread running. */
    static const step steps[] = {
        {0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2"
            "\r\n\r\n8\r\n{\"n\": 1}\r\n0\r\n\r\n"},
        {0, KEPT}};
    static script_peer p;
    p = (script_peer){.steps = steps, .n = 2};
    char url[128], err[256];
    pthread_t t = script_start(&p, url, sizeof url);
    svc_client *c = svc_client_new(url, 1, 500, 1000, err, sizeof err);
    for (int i = 0; i < 2; i++) {
        svc_resp r = {0};
        assert_true(svc_client_call(c, "GET", "/x", NULL, 0, &r));
        assert_int_equal(json_integer_value(json_object_get(r.json, "n")), 1);
        json_decref(r.json);
    }
    assert_int_equal(svc_client_connects(c), 2);
    svc_client_destroy(c);
    pthread_join(t, NULL);
    close(p.fd);
}

/* A peer that sends a chunked answer of 80 one-byte chunks, each size line carrying a 3000
 * byte extension, every send ending inside a size line. */
static void *ext_serve(void *arg)
{
    int *fd = arg;
    int c = accept(*fd, NULL, NULL);
    char req[4096], ext[3001];
    ssize_t got = recv(c, req, sizeof req, 0);
    (void)got;
    memset(ext, 'x', 3000);
    ext[3000] = '\0';
    const char *head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;e=";
    bool ok = send(c, head, strlen(head), MSG_NOSIGNAL) > 0;
    for (int i = 0; ok && i < 80; i++) {
        char piece[3100];
        snprintf(piece, sizeof piece, "%s\r\n%c\r\n%s", ext, i ? '0' : '[',
                 i < 79 ? "1;e=" : "1\r\n]\r\n0\r\n\r\n");
        ok = send(c, piece, strlen(piece), MSG_NOSIGNAL) > 0;
        struct timespec t = {.tv_nsec = 2 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    close(c);
    return NULL;
}

/* The chunks' framing does not count towards the answer's limit, however the reads split it. */
static void test_chunk_framing_is_not_the_answer(void **state)
{
    (void)state;
    static int fd;
    char url[128], err[256];
    fd = listen_loopback(url, sizeof url);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, ext_serve, &fd), 0);
    svc_h1_target tg;
    assert_true(svc_h1_target_parse(url, &tg));
    svc_h1 h = SVC_H1_INIT;
    svc_h1_answer ans;
    long connects = 0;
    int rc = svc_h1_call(&h, &tg, 500, 5000, "GET", "/x", NULL, NULL, 0, 1024, &ans, &connects, err,
                         sizeof err);
    if (rc != 0)
        fail_msg("%d: %s", rc, err);
    assert_int_equal(ans.len, 81);
    assert_int_equal(ans.body[0], '[');
    assert_int_equal(ans.body[80], ']');
    free(ans.body);
    svc_h1_close(&h);
    pthread_join(t, NULL);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls_and_keepalive),
        cmocka_unit_test(test_timeout_is_504),
        cmocka_unit_test(test_down_is_503),
        cmocka_unit_test(test_bad_answers_are_502),
        cmocka_unit_test(test_chunked_answer),
        cmocka_unit_test(test_closed_keepalive_reconnects),
        cmocka_unit_test(test_post_not_retried_after_sent),
        cmocka_unit_test(test_timeout_bounds_retry),
        cmocka_unit_test(test_te_and_length_drops_connection),
        cmocka_unit_test(test_ambiguous_heads_are_502),
        cmocka_unit_test(test_chunk_framing_is_not_the_answer),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
