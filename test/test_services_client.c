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

/* Starts a raw peer answering `conns` connections; its URL in url. */
static pthread_t peer_start(raw_peer *p, char *url, size_t size)
{
    p->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    assert_int_equal(bind(p->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(p->fd, 4), 0);
    assert_int_equal(getsockname(p->fd, (struct sockaddr *)&a, &l), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, raw_serve, p), 0);
    snprintf(url, size, "http://127.0.0.1:%d", ntohs(a.sin_port));
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
    p.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    assert_int_equal(bind(p.fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(p.fd, 4), 0);
    assert_int_equal(getsockname(p.fd, (struct sockaddr *)&a, &l), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, raw_serve, &p), 0);
    char url[128], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls_and_keepalive),
        cmocka_unit_test(test_timeout_is_504),
        cmocka_unit_test(test_down_is_503),
        cmocka_unit_test(test_bad_answers_are_502),
        cmocka_unit_test(test_chunked_answer),
        cmocka_unit_test(test_closed_keepalive_reconnects),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
