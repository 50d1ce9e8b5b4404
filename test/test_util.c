/* The small helpers of src/util/: the growth rule, the growable buffer (any length, always
 * NUL-terminated, failure sticky), the bounded writer (keeps what fits, counts everything),
 * hex digits both ways, and the clocks' units. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf.h"
#include "util/clock.h"
#include "util/hex.h"

static void test_grow(void **state)
{
    (void)state;
    size_t cap = 0;
    char *p = weir__grow(NULL, &cap, 1);
    assert_non_null(p);
    assert_int_equal(cap, 256);
    p[0] = 'x';
    char *q = weir__grow(p, &cap, 1000);
    assert_non_null(q);
    assert_int_equal(cap, 1024);
    assert_int_equal(q[0], 'x');
    /* A size no allocation can have leaves the block and its capacity as they were. */
    size_t before = cap;
    assert_null(weir__grow(q, &cap, SIZE_MAX));
    assert_int_equal(cap, before);
    free(q);
}

static void test_buf(void **state)
{
    (void)state;
    weir__buf b = {0};
    assert_int_equal(weir__buf_reserve(&b, 0), 0);
    assert_string_equal(b.p, "");
    weir__buf_str(&b, "key");
    weir__buf_chr(&b, '=');
    weir__buf_put(&b, "value!", 5);
    assert_string_equal(b.p, "key=value");
    assert_int_equal(b.len, 9);
    char big[1000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    weir__buf_printf(&b, "[%d:%s]", 7, big);
    assert_int_equal(b.len, 9 + 3 + 999 + 1);
    assert_int_equal(strlen(b.p), b.len);
    assert_memory_equal(b.p + 9, "[7:aaa", 6);
    assert_int_equal(b.p[b.len - 1], ']');
    weir__buf_clear(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.p, "");
    weir__buf_printf(&b, "%s-%u", "short", 42u);
    assert_string_equal(b.p, "short-42");
    /* After a failure every append is a no-op, so that callers check once. */
    b.oom = 1;
    weir__buf_str(&b, "more");
    assert_string_equal(b.p, "short-42");
    assert_int_equal(weir__buf_reserve(&b, 1), -1);
    free(b.p);
}

static void test_bounded(void **state)
{
    (void)state;
    char out[8];
    weir__bounded o = {out, sizeof out, 0};
    weir__bounded_str(&o, "abc");
    weir__bounded_put(&o, "defghij", 7);
    weir__bounded_finish(&o);
    assert_int_equal(o.len, 10);
    assert_string_equal(out, "abcdefg");
    weir__bounded n = {NULL, 0, 0};
    weir__bounded_str(&n, "counted only");
    weir__bounded_finish(&n);
    assert_int_equal(n.len, 12);
    char fits[16];
    weir__bounded f = {fits, sizeof fits, 0};
    weir__bounded_str(&f, "all of it");
    weir__bounded_finish(&f);
    assert_string_equal(fits, "all of it");
}

static void test_hex(void **state)
{
    (void)state;
    assert_int_equal(weir__hexval('0'), 0);
    assert_int_equal(weir__hexval('a'), 10);
    assert_int_equal(weir__hexval('F'), 15);
    assert_int_equal(weir__hexval('g'), -1);
    assert_int_equal(weir__hexval('/'), -1);
    uint32_t v = 0;
    assert_int_equal(weir__hex4("00e9", &v), 0);
    assert_int_equal(v, 0xe9);
    assert_int_equal(weir__hex4("D83D", &v), 0);
    assert_int_equal(v, 0xd83d);
    assert_int_equal(weir__hex4("12x4", &v), -1);
    assert_int_equal(weir__hexdigit(0x3c), 'c');
    assert_int_equal(weir__hexdigit_upper(0x3c), 'C');
    const unsigned char in[] = {0x00, 0x7f, 0xa5, 0xff};
    char hex[9];
    weir__hex_encode(in, sizeof in, hex);
    assert_string_equal(hex, "007fa5ff");
    weir__hex_encode(in, 0, hex);
    assert_string_equal(hex, "");
}

static void test_clocks(void **state)
{
    (void)state;
    /* Wall time in ms since the epoch: after 2020 and before 2200. */
    int64_t wall = weir__wall_ms();
    assert_true(wall > INT64_C(1577836800000) && wall < INT64_C(7258118400000));
    int64_t m0 = weir__mono_ms();
    double s0 = weir__mono_sec();
    assert_true(s0 * 1000 + 1000 > (double)m0 && s0 * 1000 - 1000 < (double)m0);
    assert_true(weir__mono_ms() >= m0);
    assert_true(weir__cpu_sec(CLOCK_THREAD_CPUTIME_ID) >= 0);
    assert_true(weir__cpu_sec(CLOCK_PROCESS_CPUTIME_ID) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow), cmocka_unit_test(test_buf),    cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_hex),  cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
