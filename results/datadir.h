/* Where clipbench's shipped files are (Makefile.plots, the gnuplot scripts,
 * the shipped sweep and experiment files): the data folder. Looked up in order:
 *   1. $CLIPBENCH_DATA_DIR (must hold Makefile.plots);
 *   2. the folder installed beside the executable, <bindir>/../share/clipbench
 *      (`cmake --install build --prefix P` puts it there), found through
 *      /proc/self/exe so an installed clipbench works from any directory;
 *   3. the source tree the binary was built from (a build folder).
 * So a relocated install (copying P elsewhere) still finds its files. */
#ifndef CB_RESULTS_DATADIR_H
#define CB_RESULTS_DATADIR_H

#include <stddef.h>

/* Writes the data folder to buf and returns 0, or -1 with cb_error naming
 * the places looked at and the fix. */
int cb_data_dir(char *buf, size_t n);

#endif
