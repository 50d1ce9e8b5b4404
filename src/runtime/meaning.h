/* The meaning of a checkpoint's state: the keys that must not change across a restore. */
#ifndef WEIR_RUNTIME_MEANING_H
#define WEIR_RUNTIME_MEANING_H

#include <stddef.h>

#include "weir/conf.h"

/* "key=value key=value ..." over the keys that change what a state means (window size,
 * lateness, emission mode, fields, distinct mode, ...). malloc'd; NULL when out of memory. */
char *weir__conf_meaning(const weir_conf *conf);

/* The same over `keys` (n of them); a space in a value is written as U+001E. */
char *weir__conf_meaning_of(const weir_conf *conf, const char *const *keys, size_t n);

/* Writes into `why` the one-line refusal naming the keys whose values in the recorded
 * meaning `m` (mlen bytes) differ from `conf`'s, and how to start over. */
void weir__meaning_diff(const weir_conf *conf, const char *m, size_t mlen, char *why, size_t size);

#endif
