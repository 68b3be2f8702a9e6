/* Fuzz targets for every parser that reads user files (libFuzzer).
 *
 * Each tests/fuzz/fuzz_NAME.c defines one entry function
 *
 *   int cb_fuzz_NAME(const uint8_t *data, size_t size);
 *
 * that feeds the bytes to our reader the way a user's file reaches it and
 * checks the promise, not just the absence of a crash: a failure has a
 * one-line message that names the file, a success holds up (round trips give
 * back what was read). A broken property aborts with CB_FUZZ_CHECK, which
 * both libFuzzer and the replay test treat as a crash.
 *
 * The same entry functions are built twice:
 *   - with clang and -fsanitize=fuzzer (cmake -DCB_FUZZ=ON): fuzz_NAME, one
 *     libFuzzer executable per target (CB_FUZZ_MAIN defined);
 *   - always, with the normal compiler: fuzz_replay, which runs every file of
 *     the seed corpus (tests/fuzz/corpus/NAME) and the crash reproducers
 *     (tests/fuzz/regressions/NAME) through them, so found bugs stay fixed
 *     without clang. */
#ifndef CB_TESTS_FUZZ_H
#define CB_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* The targets, in the order the replay test lists them. */
#define CB_FUZZ_TARGETS(X) \
  X(config)                \
  X(sweep)                 \
  X(npy)                   \
  X(safetensors)           \
  X(json)                  \
  X(history)               \
  X(checkpoint)            \
  X(duke)

#define CB_FUZZ_DECLARE(name) int cb_fuzz_##name(const uint8_t *data, size_t size);
CB_FUZZ_TARGETS(CB_FUZZ_DECLARE)
#undef CB_FUZZ_DECLARE

/* libFuzzer's entry point for one target (only in the fuzz_NAME builds). */
#ifdef CB_FUZZ_MAIN
#define CB_FUZZ_ENTRY(name)                                      \
  int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);  \
  int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { \
    return cb_fuzz_##name(data, size);                           \
  }
#else
#define CB_FUZZ_ENTRY(name)
#endif

/* Aborts with the message (and the input's name under replay) when the
 * property does not hold. */
#define CB_FUZZ_CHECK(cond, ...)                                       \
  do {                                                                 \
    if (!(cond)) cb_fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
  } while (0)
_Noreturn void cb_fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The input being replayed (for messages); NULL under libFuzzer. */
extern const char *cb_fuzz_current;

/* Targets call this when the reader accepted the input. A reproducer of a
 * bug where a bad file was accepted (e.g. a truncated one) is committed as
 * regressions/NAME/reject_*: the replay then fails if it is accepted. */
void cb_fuzz_accepted(const char *reader);

/* A private temporary folder for this process, removed at exit. */
const char *cb_fuzz_tmpdir(void);
/* Writes data to DIR/rel (creating sub-folders) and returns the path (a
 * static buffer per call site is not needed: the caller copies it). */
int cb_fuzz_write(const char *path, const uint8_t *data, size_t size);
/* path = tmpdir/rel; returns path. */
char *cb_fuzz_path(char *path, size_t n, const char *rel);

/* The input as a NUL-terminated string (malloc'ed), or NULL when it holds a
 * NUL byte (text readers never see one: they refuse such files first). */
char *cb_fuzz_text(const uint8_t *data, size_t size);

/* Checks the error promise after a reader failed: cb_last_error() was set by
 * this call (the caller cleared it before), is one line and mentions `name`
 * (the file the user gave) when name is not NULL. */
void cb_fuzz_check_error(const char *reader, const char *name);

#endif
