/* The privacy-audit section of `clipbench report`: a self-contained piece
 * (its own heading, table and verdicts) that the report calls once, so the
 * report's layout can change around it. */
#ifndef CB_RESULTS_REPORT_AUDIT_H
#define CB_RESULTS_REPORT_AUDIT_H

#include "results/store.h"

#include <stdio.h>

/* Writes the section to both pages when the sweep (NULL: all runs) has
 * audited runs; nothing otherwise. *bugs (may be NULL) gets the number of
 * runs whose audited lower bound exceeds the accountant's epsilon. */
int cb_report_audit(cb_store *s, const char *sweep, FILE *html, FILE *md, int *bugs);

#endif
