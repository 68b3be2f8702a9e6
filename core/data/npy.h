/* NumPy .npy files: our own reader and writer (format versions 1.0-3.0).
 *
 * The reader parses the header dictionary strictly ('descr', 'fortran_order',
 * 'shape' and nothing else), checks that the data is exactly as long as the
 * header says, converts to native byte order and C (row-major) order
 * (Fortran-order arrays, as in the seed study's files, are transposed), and
 * reports every problem as one line naming the file. */
#ifndef CB_DATA_NPY_H
#define CB_DATA_NPY_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  CB_NPY_BOOL,
  CB_NPY_U8,
  CB_NPY_I8,
  CB_NPY_U16,
  CB_NPY_I16,
  CB_NPY_U32,
  CB_NPY_I32,
  CB_NPY_U64,
  CB_NPY_I64,
  CB_NPY_F32,
  CB_NPY_F64,
} cb_npy_dtype;

#define CB_NPY_MAX_DIMS 8

typedef struct {
  cb_npy_dtype dtype;
  int ndim;
  int64_t shape[CB_NPY_MAX_DIMS];
  int64_t count; /* number of elements */
  size_t itemsize;
  int was_fortran; /* the file was Fortran order (data is now C order) */
  void *data;      /* count elements, native byte order, C order */
} cb_npy;

/* Parses a whole .npy file held in memory; name is used in messages. */
int cb_npy_parse(const uint8_t *buf, size_t len, const char *name, cb_npy *out);
int cb_npy_read(const char *path, cb_npy *out);
void cb_npy_free(cb_npy *a);
const char *cb_npy_dtype_name(cb_npy_dtype t); /* "float32", "uint8", ... */

/* Element i as double. */
double cb_npy_get(const cb_npy *a, int64_t i);

/* Writes a C-order array (native little-endian data) atomically: a
 * temporary file in the same folder, renamed over path when complete. Only
 * CB_NPY_F32, CB_NPY_U8 and CB_NPY_F64 are written. */
int cb_npy_write(const char *path, cb_npy_dtype dtype, int ndim, const int64_t *shape,
                 const void *data);

/* Writes Fortran order (for tests of the reader: what MATLAB/numpy produce
 * with order='F'); data is given in C order and transposed on the way. */
int cb_npy_write_fortran(const char *path, cb_npy_dtype dtype, int ndim, const int64_t *shape,
                         const void *data);

#endif
