/* Checkpoint stores: where snapshots of a job are kept so that it can resume after a crash. */
#ifndef WEIR_CHECKPOINT_H
#define WEIR_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "weir/err.h"
#include "weir/log.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A directory of checkpoints, written atomically: each goes to a temporary file that
 * is fsynced, renamed to ckpt-<sequence>.weir and followed by an fsync of the directory,
 * so a crash at any instant leaves either the old set or the new one, never half a
 * file under a checkpoint's name. The newest `keep` checkpoints are kept.
 *
 * Each file is an envelope around the job's payload: magic "WEIRCKPT", u32 version (1),
 * u32 reserved, u64 sequence, u64 payload length, the payload, XXH64 of everything
 * before (little-endian). The store checks the envelope; the payload is the job's.
 *
 * Thread-safety: one thread per store.
 */
typedef struct weir_ckpt_dir weir_ckpt_dir;

/* Opens (creating it if needed) the directory `path`. Returns WEIR_ERR_IO with the reason
 * in errstr when it cannot be created or read. The caller closes it. */
weir_err weir_ckpt_dir_open(const char *path, int keep, weir_ckpt_dir **out, char *errstr,
                            size_t errstr_size);

/* Closes the store. Accepts NULL. */
void weir_ckpt_dir_close(weir_ckpt_dir *d);

/* Writes a new checkpoint holding `payload` (copied) and removes those beyond `keep`.
 * Returns WEIR_ERR_IO with the reason in errstr. Sequence numbers never wrap (a restart
 * takes the highest as the newest): after ckpt-18446744073709551615 it returns
 * WEIR_ERR_STATE, and only weir_ckpt_dir_clear() lets it write again. */
weir_err weir_ckpt_dir_write(weir_ckpt_dir *d, const uint8_t *payload, size_t len, char *errstr,
                             size_t errstr_size);

/* Called with a checkpoint's payload; returns WEIR_OK to accept it, WEIR_ERR_CORRUPT or
 * WEIR_ERR_UNSUPPORTED to fall back to an older one, any other error to stop. */
typedef weir_err (*weir_ckpt_accept_fn)(void *opaque, const uint8_t *payload, size_t len,
                                        char *errstr, size_t errstr_size);

/*
 * Offers the checkpoints to `accept`, newest first, until one is accepted. A file whose
 * envelope is damaged, or whose payload `accept` refuses as corrupt, is reported through `log`
 * (NULL: not reported; one warning naming the file and the reason, called with `log_arg` on
 * the caller's thread) and the next older one is tried.
 * Returns WEIR_OK when one was accepted, WEIR_ERR_NOT_FOUND when the directory holds no
 * checkpoint, WEIR_ERR_CORRUPT when there were some but none could be used, or the error
 * `accept` returned to stop (with its errstr).
 */
weir_err weir_ckpt_dir_load(weir_ckpt_dir *d, weir_ckpt_accept_fn accept, void *opaque,
                            weir_log_fn log, void *log_arg, char *errstr, size_t errstr_size);

/* Removes every checkpoint in the directory (a fresh start). */
weir_err weir_ckpt_dir_clear(weir_ckpt_dir *d, char *errstr, size_t errstr_size);

/* The sequence number of the last checkpoint written or accepted (0 if none). */
uint64_t weir_ckpt_dir_sequence(const weir_ckpt_dir *d);

#ifdef __cplusplus
}
#endif
#endif
