/* Configuration: string keys and values, one table of keys, librdkafka-style. */
#ifndef WEIR_CONF_H
#define WEIR_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "weir/err.h"
#include "weir/log.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A weir_conf holds a value for every key of weir's one configuration table
 * (docs/CONFIGURATION.md is generated from that table). Keys start at their
 * defaults. Values are validated when set, so a conf that accepted a value can
 * always be read back as its type.
 *
 * Keys under the pass-through prefixes `kafka.` (librdkafka properties) and
 * `kafka.producer.` / `kafka.consumer.` accept any value; they are checked by
 * librdkafka when a Kafka client is created.
 *
 * Thread-safety: a weir_conf is not synchronised. Reading one conf from several
 * threads is safe while no thread sets a value.
 */
typedef struct weir_conf weir_conf;

/*
 * Sets the callback through which everything made from this conf (jobs, sources, sinks,
 * checkpoint stores) logs; a conf starts with none (nothing is logged), and weir_conf_dup()
 * copies it. `arg` is not owned. The callback is called from the job's thread and from
 * librdkafka's threads, so it must be thread-safe (weir_logger_fn() is).
 */
void weir_conf_set_log(weir_conf *conf, weir_log_fn fn, void *arg);

/* Creates a conf with every key at its default. Returns NULL only when out of memory.
 * The caller owns it and frees it with weir_conf_destroy(). */
weir_conf *weir_conf_new(void);

/* Frees `conf` and every value it holds. Accepts NULL. */
void weir_conf_destroy(weir_conf *conf);

/* Returns an independent copy of `conf` (caller frees it), or NULL when out of memory. */
weir_conf *weir_conf_dup(const weir_conf *conf);

/*
 * Sets `key` to `value` after validating it against the key's type and range. A list key
 * (a repeatable flag: `aggregates`, `where`) adds `value` as one more item instead; its
 * items are read with weir_conf_get_list().
 * On error returns WEIR_ERR_INVALID_ARG and writes one line naming the key and
 * the accepted values into `errstr` (may be NULL); the conf is unchanged.
 * Copies both strings.
 */
weir_err weir_conf_set(weir_conf *conf, const char *key, const char *value, char *errstr,
                       size_t errstr_size);

/*
 * Reads `path`: one `key=value` per line, blank lines and lines starting with
 * `#` ignored, whitespace around key and value trimmed. Stops at the first bad
 * line with an error naming the file, line number and key. Returns WEIR_ERR_IO
 * when the file cannot be read.
 */
weir_err weir_conf_load_file(weir_conf *conf, const char *path, char *errstr, size_t errstr_size);

/*
 * Sets, from the environment, each key that has an environment variable (brokers:
 * KAFKA_BOOTSTRAP_SERVERS, input.topic: KAFKA_INPUT_TOPIC, output.topic: KAFKA_OUTPUT_TOPIC,
 * dynamodb.table: DYNAMODB_TABLE, aws.region: AWS_REGION) and is not set yet: call it after
 * the flags and files, which win. Empty variables are ignored. A value the key refuses
 * returns WEIR_ERR_INVALID_ARG with one line naming the variable in `errstr`; keys set before
 * stay set. Reads the process environment: not thread-safe against setenv().
 */
weir_err weir_conf_load_env(weir_conf *conf, char *errstr, size_t errstr_size);

/* The environment variable that sets `key` (static), or NULL when none does. Thread-safe. */
const char *weir_conf_key_env(const char *key);

/* The current value of `key` as text (its default if never set), or NULL for an
 * unknown key. The string is owned by `conf` and valid until the key is set again. */
const char *weir_conf_get(const weir_conf *conf, const char *key);

/* Returns 1 when `key` was set explicitly, 0 when it still has its default. */
int weir_conf_is_set(const weir_conf *conf, const char *key);

/* Typed readers. They return 0 / false for unknown keys or keys of another type
 * (a programming error that asserts in debug builds). Durations are in
 * milliseconds; a disabled duration ("off") reads as 0. */
int64_t weir_conf_get_int(const weir_conf *conf, const char *key);
int64_t weir_conf_get_duration_ms(const weir_conf *conf, const char *key);
int weir_conf_get_bool(const weir_conf *conf, const char *key);

/* The items of list key `key`, in the order they were set: calls `fn` once per item (a
 * NUL-terminated copy valid during the call) until it returns non-zero, which is returned;
 * 0 after the last item. */
int weir_conf_get_list(const weir_conf *conf, const char *key,
                       int (*fn)(void *opaque, const char *item), void *opaque);

/*
 * Calls `fn` for every explicitly set key that starts with `prefix`, with the
 * key's remainder after the prefix and its value, in the order they were set.
 * Used to pass `kafka.*` keys through to librdkafka.
 */
void weir_conf_foreach_prefix(const weir_conf *conf, const char *prefix,
                              void (*fn)(void *opaque, const char *name, const char *value),
                              void *opaque);

/*
 * Parses a duration: an integer followed by `ms`, `s`, `m`, `h` or `d`
 * (`0` alone is allowed). Returns WEIR_ERR_INVALID_ARG for anything else,
 * including overflow and negative values. Thread-safe.
 */
weir_err weir_parse_duration(const char *text, int64_t *out_ms);

/*
 * The key a job flag sets ("--window" -> "window.size"), from the same table, or
 * NULL when no key has that flag. *takes_value is 0 for boolean flags, which set
 * "true" when given without a value. Thread-safe.
 */
const char *weir_conf_key_for_flag(const char *flag, int *takes_value);

/* Writes one help line per flag of the table ("  --window DUR  ...") to `out`, naming the
 * key, its default and its environment variable. */
void weir_conf_write_flags(FILE *out);

/* As weir_conf_write_flags(), for the flags of the NULL-terminated list `flags` only (a job
 * that takes a subset), without the environment variables (such a job may not read them). */
void weir_conf_write_flags_only(FILE *out, const char *const *flags);

/* Writes the Markdown reference of every key (docs/CONFIGURATION.md) to `out`. */
void weir_conf_write_doc(FILE *out);

#ifdef __cplusplus
}
#endif
#endif
