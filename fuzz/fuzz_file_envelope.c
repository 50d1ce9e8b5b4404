/* libFuzzer target: the envelope of the file checkpoints in a checkpoint directory
 * (state/checkpoint_dir.c), read at each restart of a file job. The input becomes up to
 * three files ckpt-<seq>.weir. Checked: the payload accepted is the one of a file that is
 * exactly the envelope written around it under its name's sequence, and no newer file is
 * such an envelope with a payload the job would take; the store then continues from the
 * highest sequence; and the payload written again is read back the same.
 *
 * Input: u8 options (bit 0: fix each file's checksum, which the fuzzer cannot compute), then
 * per file u8 sequence (0xf0..0xff: 2^64 - 16 .. 2^64 - 1), u16 length and the bytes. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "fuzz.h"
#include "weir/checkpoint.h"

static char dir[64];

static void clear_dir(void)
{
    DIR *d = opendir(dir);
    CHECK(d);
    struct dirent *de;
    char path[600];
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            unlink(path);
        }
    closedir(d);
}

static void remove_dir(void)
{
    clear_dir();
    rmdir(dir);
}

static void write_file(const char *name, const uint8_t *b, size_t len)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && write(fd, b, len) == (ssize_t)len);
    close(fd);
}

/* The envelope weir_ckpt_dir_write() puts around `payload` as checkpoint `seq`. */
static void envelope(fz_buf *b, uint64_t seq, const uint8_t *payload, size_t len)
{
    fz_add(b, "WEIRCKPT", 8);
    fz_le64(b, 1);
    fz_le64(b, seq);
    fz_le64(b, len);
    fz_add(b, payload, len);
    fz_le64(b, XXH64(b->p, b->len, 0));
}

static int is_envelope(const uint8_t *f, size_t len, uint64_t seq)
{
    if (len < 40)
        return 0;
    fz_buf b = {0};
    envelope(&b, seq, f + 32, len - 40);
    int same = b.len == len && !memcmp(b.p, f, len);
    free(b.p);
    return same;
}

typedef struct got {
    const uint8_t *payload;
    size_t len;
} got;

/* Takes payloads of even length: odd ones make the store fall back to older files. */
static weir_err take(void *opaque, const uint8_t *p, size_t len, char *why, size_t size)
{
    got *g = opaque;
    if (len % 2) {
        snprintf(why, size, "odd");
        return WEIR_ERR_CORRUPT;
    }
    g->payload = fz_dup(p, len);
    g->len = len;
    return WEIR_OK;
}

typedef struct file {
    uint64_t seq;
    const uint8_t *b;
    size_t len;
} file;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(dir, sizeof dir, "%s/weir-fuzz-XXXXXX", base);
        CHECK(mkdtemp(dir));
        atexit(remove_dir);
    }
    clear_dir();
    if (size < 1)
        return 0;
    unsigned opts = data[0];
    file files[3];
    int n = 0;
    uint8_t *bufs[3] = {NULL, NULL, NULL};
    for (size_t at = 1; n < 3 && at + 3 <= size; n++) {
        /* Sequences 0xf0..0xff stand for the last ones before 2^64 wraps. */
        uint64_t seq = data[at] < 0xf0 ? data[at] : UINT64_MAX - (0xffu - data[at]);
        size_t len = (size_t)data[at + 1] | (size_t)data[at + 2] << 8;
        at += 3;
        if (len > size - at)
            len = size - at;
        bufs[n] = fz_dup(data + at, len);
        at += len;
        if ((opts & 1) && len >= 40)
            for (int i = 0; i < 8; i++)
                bufs[n][len - 8 + i] = (uint8_t)(XXH64(bufs[n], len - 8, 0) >> (8 * i));
        int dup = 0;
        for (int k = 0; k < n; k++)
            dup |= files[k].seq == seq;
        if (dup) {
            free(bufs[n]);
            bufs[n--] = NULL;
            continue;
        }
        files[n] = (file){seq, bufs[n], len};
        char name[64];
        snprintf(name, sizeof name, "ckpt-%llu.weir", (unsigned long long)seq);
        write_file(name, bufs[n], len);
    }

    weir_ckpt_dir *d;
    char err[512];
    CHECK(weir_ckpt_dir_open(dir, 3, &d, err, sizeof err) == WEIR_OK);
    got g = {NULL, 0};
    weir_err rc = weir_ckpt_dir_load(d, take, &g, NULL, NULL, err, sizeof err);
    CHECK(rc == WEIR_OK || rc == WEIR_ERR_NOT_FOUND || rc == WEIR_ERR_CORRUPT);
    CHECK(rc == WEIR_ERR_NOT_FOUND ? n == 0 : n > 0);
    uint64_t max = 0;
    for (int i = 0; i < n; i++)
        max = files[i].seq > max ? files[i].seq : max;
    if (rc == WEIR_OK) {
        uint64_t from = 0;
        int found = 0;
        for (int i = 0; i < n; i++)
            if (files[i].len == g.len + 40 && is_envelope(files[i].b, files[i].len, files[i].seq) &&
                !memcmp(files[i].b + 32, g.payload, g.len)) {
                from = files[i].seq;
                found = 1;
            }
        CHECK(found);
        for (int i = 0; i < n; i++)
            CHECK(files[i].seq <= from || !is_envelope(files[i].b, files[i].len, files[i].seq) ||
                  (files[i].len - 40) % 2);
        CHECK(weir_ckpt_dir_sequence(d) == max);

        /* Written again, read back the same, as the next checkpoint; after 2^64-1 there is no
         * next one, and the write is refused rather than wrapped. */
        if (max == UINT64_MAX) {
            CHECK(weir_ckpt_dir_write(d, g.payload, g.len, err, sizeof err) == WEIR_ERR_STATE);
            CHECK(weir_ckpt_dir_sequence(d) == max);
            free((void *)g.payload);
            weir_ckpt_dir_close(d);
            for (int i = 0; i < 3; i++)
                free(bufs[i]);
            return 0;
        }
        CHECK(weir_ckpt_dir_write(d, g.payload, g.len, err, sizeof err) == WEIR_OK);
        got h = {NULL, 0};
        CHECK(weir_ckpt_dir_load(d, take, &h, NULL, NULL, err, sizeof err) == WEIR_OK);
        CHECK(h.len == g.len && (!g.len || !memcmp(h.payload, g.payload, g.len)));
        CHECK(weir_ckpt_dir_sequence(d) == max + 1);
        free((void *)h.payload);
    }
    free((void *)g.payload);
    weir_ckpt_dir_close(d);
    for (int i = 0; i < 3; i++)
        free(bufs[i]);
    return 0;
}
