/* The code version recorded with every run. The git revision lives in one
 * generated file (regenerated at each build, rewritten only when it
 * changes), so a new commit recompiles one file, not the project. */
#ifndef CB_BASE_VERSION_H
#define CB_BASE_VERSION_H

const char *cb_version(void); /* e.g. "0.1.0" */
const char *cb_git_rev(void); /* short hash, "+dirty" when the tree had changes */
/* "0.1.0 (abc123def456)" */
const char *cb_version_string(void);

#endif
