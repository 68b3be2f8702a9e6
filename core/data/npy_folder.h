/* Streaming writer of NPY folders (images/, masks/, subjects.tsv,
 * classes.tsv), for sources whose images differ in size (a Duke import at
 * native resolution). Everything goes into DIR.tmp-PID, renamed to DIR by
 * cb_npyw_finish; cb_npyw_abort removes it. */
#ifndef CB_DATA_NPY_FOLDER_H
#define CB_DATA_NPY_FOLDER_H

#include "core/data/dataset.h"

#include <stdint.h>

typedef struct cb_npyw cb_npyw;

int cb_npyw_begin(cb_npyw **w, const char *dir);
/* extra: tab-separated provenance columns for subjects.tsv (may be NULL). */
int cb_npyw_add(cb_npyw *w, const char *name, int subject, const float *image, const uint8_t *mask,
                int H, int W, const char *extra);
/* Writes subjects.tsv (extra_header names the extra columns) and classes.tsv
 * (class names and background flags from meta), then renames into place. */
int cb_npyw_finish(cb_npyw *w, const cb_dataset *meta, const char *extra_header);
void cb_npyw_abort(cb_npyw *w);

#endif
