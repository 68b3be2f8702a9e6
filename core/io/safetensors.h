/* safetensors files (https://github.com/huggingface/safetensors), written and
 * read by our own code so checkpoints load in Python's safetensors/PyTorch:
 *
 *   8 bytes   little-endian u64 N, the header length
 *   N bytes   JSON object: {"__metadata__": {"key": "value", ...},
 *             "name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, ...}
 *             (padded with spaces so the data starts 8-byte aligned)
 *   rest      tensor bytes, little-endian, offsets relative to the rest
 *
 * The reader trusts nothing: it checks the header length against the file,
 * the JSON, every dtype, shape and offset, that the tensors tile the data
 * exactly (no gaps, overlaps or trailing bytes, as the reference reader
 * requires), and reports the first problem with the file name. */
#ifndef CB_IO_SAFETENSORS_H
#define CB_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define CB_ST_MAX_DIMS 8
#define CB_ST_MAX_HEADER 100000000 /* the reference reader's limit */

typedef enum { CB_ST_F64, CB_ST_F32, CB_ST_I64, CB_ST_I32, CB_ST_U8, CB_ST_NDTYPES } cb_st_dtype;

/* "F32" etc.; element size in bytes. */
const char *cb_st_dtype_name(cb_st_dtype d);
size_t cb_st_dtype_size(cb_st_dtype d);

/* A string map: the file's __metadata__ (and a checkpoint's metadata). Keys
 * are unique; insertion order is kept. */
typedef struct {
  char **keys, **values;
  int n, cap;
} cb_meta;

/* Sets key to value (a copy), replacing an existing value. */
int cb_meta_set(cb_meta *m, const char *key, const char *value);
/* The value of key, or NULL. */
const char *cb_meta_get(const cb_meta *m, const char *key);
void cb_meta_free(cb_meta *m);

/* One tensor to write: host data in little-endian order. */
typedef struct {
  const char *name;
  cb_st_dtype dtype;
  int ndim;
  int64_t shape[CB_ST_MAX_DIMS];
  const void *data;
} cb_st_entry;

/* Writes n tensors (in that order) and the metadata (may be NULL) to path
 * atomically: a temporary file in the same directory, fsync, rename. */
int cb_st_write(const char *path, const cb_st_entry *t, int n, const cb_meta *meta);

typedef struct {
  char *name;
  cb_st_dtype dtype;
  int ndim;
  int64_t shape[CB_ST_MAX_DIMS];
  int64_t numel;
  const unsigned char *data; /* into the file's buffer; not aligned */
  size_t nbytes;
} cb_st_tensor;

typedef struct {
  char what[512]; /* the file name, for messages */
  unsigned char *buf;
  size_t len;
  cb_st_tensor *t;
  int n;
  cb_meta meta;
} cb_st_file;

/* Reads and validates a whole file. On failure cb_error names the file and
 * the problem; f is left empty (cb_st_close is still safe). */
int cb_st_read(const char *path, cb_st_file *f);
/* The same on a buffer, which f takes over (it is freed by cb_st_close, also
 * on failure). `what` names it in messages. */
int cb_st_parse(unsigned char *buf, size_t len, const char *what, cb_st_file *f);
void cb_st_close(cb_st_file *f);

const cb_st_tensor *cb_st_find(const cb_st_file *f, const char *name);
/* Copies tensor `name` into dst as float32, checking that it exists, that its
 * dtype is F32 or F64 and that its shape is shape[0..ndim). */
int cb_st_get_f32(const cb_st_file *f, const char *name, int ndim, const int64_t *shape,
                  float *dst);

#endif
