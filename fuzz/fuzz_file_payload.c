/* libFuzzer target: the payload of a file-mode checkpoint (runtime/file_job.c), read at
 * each restart of a file job: the input's position and the hash of its head, the output
 * files' lengths, the configuration's meaning and the pipeline snapshot, in the current
 * layout (WEIRFCKP, version 2) or an earlier release's (WEIRFJOB). Any bytes are refused or
 * accepted; what is accepted, written again in its layout, is the same bytes, and its
 * pipeline snapshot restores.
 *
 * Input: u8 options (bit 0: set the hash of the input's head to that of the offset given,
 * bit 1: fix the pipeline snapshot's checksum: the fuzzer can compute neither), then the
 * payload. The job's input is FZ_FILE_INPUT (fuzz.h). */
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include "fuzz.h"
#include "runtime/file_job_int.h"
#include "runtime/meaning.h"
#include "weir/pipeline.h"

typedef struct env {
    weir_conf *conf;
    char *meaning;
    int fd;
} env;

static const env *get_env(void)
{
    static env e;
    if (!e.conf) {
        e.conf = weir_conf_new();
        e.meaning = weir__conf_meaning(e.conf);
        e.fd = memfd_create("weir-fuzz-input", 0);
        CHECK(e.conf && e.meaning && e.fd >= 0);
        CHECK(write(e.fd, FZ_FILE_INPUT, strlen(FZ_FILE_INPUT)) == (ssize_t)strlen(FZ_FILE_INPUT));
    }
    return &e;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const env *e = get_env();
    if (size < 1)
        return 0;
    unsigned opts = data[0];
    uint8_t *b = fz_dup(data + 1, size - 1);
    size_t len = size - 1;
    size_t in_len = strlen(FZ_FILE_INPUT);
    /* The fields after the magic (and, since version 2, the version word). */
    size_t h = len >= 8 && !memcmp(b, "WEIRFCKP", 8) ? 16 : 8;
    if ((opts & 1) && len >= h + 24) {
        uint64_t off = get64(b + h);
        size_t n = off < 65536 ? (size_t)off : 65536;
        if (n <= in_len) {
            put64(b + h + 8, XXH64(FZ_FILE_INPUT, n, 0));
            put64(b + h + 16, n);
        }
    }
    if ((opts & 2) && len >= h + 60) {
        uint32_t mlen = (uint32_t)get64(b + h + 48);
        if (mlen <= len - h - 60 && len - h - 60 - mlen >= 16 + 8) {
            uint8_t *pipe = b + h + 60 + mlen;
            size_t plen = len - h - 60 - mlen;
            put64(pipe + plen - 8, XXH64(pipe, plen - 8, 0));
        }
    }
    weir__fjob_resume r = {0};
    char why[512] = "";
    weir_err rc = weir__file_job_accept(e->conf, e->meaning, e->fd, b, len, &r, why, sizeof why);
    CHECK(memchr(why, 0, sizeof why));
    if (rc != WEIR_OK) {
        CHECK(rc == WEIR_ERR_CORRUPT || rc == WEIR_ERR_UNSUPPORTED || rc == WEIR_ERR_INVALID_ARG ||
              rc == WEIR_ERR_NOMEM);
        CHECK(why[0] && !r.pipe);
    } else {
        CHECK(r.offset <= in_len); /* the input's head was hashed, so it is that long */
        for (int i = 0; i < 3; i++)
            CHECK(r.files[i] >= -1);
        /* As the job writes it (take_checkpoint), it is the payload read. */
        fz_buf w = {0};
        size_t n = r.offset < 65536 ? (size_t)r.offset : 65536;
        if (r.version == 2) {
            fz_add(&w, "WEIRFCKP", 8);
            fz_le32(&w, 2);
            fz_le32(&w, 0);
        } else {
            CHECK(r.version == 1);
            fz_add(&w, "WEIRFJOB", 8);
        }
        fz_le64(&w, r.offset);
        fz_le64(&w, XXH64(FZ_FILE_INPUT, n, 0));
        fz_le64(&w, n);
        for (int i = 0; i < 3; i++)
            fz_le64(&w, (uint64_t)r.files[i]);
        fz_le32(&w, (uint32_t)strlen(e->meaning));
        fz_str(&w, e->meaning);
        fz_le64(&w, r.pipe_len);
        fz_add(&w, r.pipe, r.pipe_len);
        CHECK(w.len == len && !memcmp(w.p, b, len));
        free(w.p);
        char err[256];
        weir_pipeline *p = weir_pipeline_new(e->conf, 1, NULL, 0, NULL, NULL, err, sizeof err);
        CHECK(p && weir_pipeline_restore(p, r.pipe, r.pipe_len, err, sizeof err) == WEIR_OK);
        weir_pipeline_destroy(p);
    }
    free(r.pipe);
    free(b);
    return 0;
}
