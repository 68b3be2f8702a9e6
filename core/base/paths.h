/* Output folders: every command that writes a file or folder creates the
 * folders above it, as opening a results database (--db) does. */
#ifndef CB_BASE_PATHS_H
#define CB_BASE_PATHS_H

/* mkdir -p dir. 0, or -1 with cb_error naming the folder and the reason. */
int cb_mkdir_p(const char *dir);
/* mkdir -p of the folder that will hold `path` (nothing for a bare name). */
int cb_mkdir_parent(const char *path);

#endif
