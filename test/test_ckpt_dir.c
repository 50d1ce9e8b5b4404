/* The checkpoint directory's sequence numbers: they never wrap (a restart takes the highest
 * as the newest), and only names the store itself writes count as checkpoints. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include <cmocka.h>

#include "state/bytes.h"
#include "weir/checkpoint.h"

static int setup(void **state)
{
    char *dir = strdup("/tmp/weir-ckpt-XXXXXX");
    if (!dir || !mkdtemp(dir))
        return -1;
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", (char *)*state);
    int rc = system(cmd);
    free(*state);
    return rc == 0 ? 0 : -1;
}

/* Writes DIR/ckpt-SEQ.weir holding `payload` in the store's envelope, as the store would. */
static void plant(const char *dir, uint64_t seq, const char *payload)
{
    size_t len = strlen(payload);
    uint8_t b[256] = {0};
    assert_true(32 + len + 8 <= sizeof b);
    memcpy(b, "WEIRCKPT", 8);
    weir__put_le64(b + 8, 1);
    weir__put_le64(b + 16, seq);
    weir__put_le64(b + 24, len);
    memcpy(b + 32, payload, len);
    weir__put_le64(b + 32 + len, XXH64(b, 32 + len, 0));
    char path[512];
    snprintf(path, sizeof path, "%s/ckpt-%llu.weir", dir, (unsigned long long)seq);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, 32 + len + 8, f), 32 + len + 8);
    assert_int_equal(fclose(f), 0);
}

static void touch(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    close(fd);
}

static int exists(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* The accepted payload, as a string. */
static weir_err take(void *opaque, const uint8_t *payload, size_t len, char *why, size_t size)
{
    (void)why;
    (void)size;
    snprintf(opaque, 64, "%.*s", (int)len, (const char *)payload);
    return WEIR_OK;
}

static void test_sequence_never_wraps(void **state)
{
    const char *dir = *state;
    plant(dir, UINT64_MAX - 1, "older");
    plant(dir, UINT64_MAX, "newest");
    weir_ckpt_dir *d;
    char err[512] = "", got[64] = "";
    assert_int_equal(weir_ckpt_dir_open(dir, 3, &d, err, sizeof err), WEIR_OK);
    assert_int_equal(weir_ckpt_dir_sequence(d), UINT64_MAX);
    /* After the last sequence number a write is refused, not numbered 0: a restart would
     * take ckpt-18446744073709551615 as the newest and restore an older state. */
    assert_int_equal(weir_ckpt_dir_write(d, (const uint8_t *)"next", 4, err, sizeof err),
                     WEIR_ERR_STATE);
    assert_non_null(strstr(err, "sequence numbers used up"));
    assert_non_null(strstr(err, dir));
    assert_false(exists(dir, "ckpt-0.weir"));
    assert_int_equal(weir_ckpt_dir_load(d, take, got, NULL, NULL, err, sizeof err), WEIR_OK);
    assert_string_equal(got, "newest");
    /* A fresh start numbers from 1 again. */
    assert_int_equal(weir_ckpt_dir_clear(d, err, sizeof err), WEIR_OK);
    assert_int_equal(weir_ckpt_dir_write(d, (const uint8_t *)"fresh", 5, err, sizeof err), WEIR_OK);
    assert_true(exists(dir, "ckpt-1.weir"));
    weir_ckpt_dir_close(d);
}

static void test_only_its_own_names(void **state)
{
    const char *dir = *state;
    plant(dir, 4, "four");
    /* Names the store never writes: beyond 64 bits, signed, zero-padded, other suffixes. */
    touch(dir, "ckpt-99999999999999999999.weir");
    touch(dir, "ckpt-18446744073709551616.weir");
    touch(dir, "ckpt--1.weir");
    touch(dir, "ckpt-+7.weir");
    touch(dir, "ckpt-007.weir");
    touch(dir, "ckpt- 8.weir");
    touch(dir, "ckpt-9.weirx");
    weir_ckpt_dir *d;
    char err[512] = "", got[64] = "";
    assert_int_equal(weir_ckpt_dir_open(dir, 3, &d, err, sizeof err), WEIR_OK);
    assert_int_equal(weir_ckpt_dir_sequence(d), 4);
    assert_int_equal(weir_ckpt_dir_write(d, (const uint8_t *)"five", 4, err, sizeof err), WEIR_OK);
    assert_int_equal(weir_ckpt_dir_sequence(d), 5);
    assert_int_equal(weir_ckpt_dir_load(d, take, got, NULL, NULL, err, sizeof err), WEIR_OK);
    assert_string_equal(got, "five");
    weir_ckpt_dir_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sequence_never_wraps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_its_own_names, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
