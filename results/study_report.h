/* clipbench report --study: the reproduction report of the seed study (the
 * study's published numbers beside ours as published and ours corrected, a
 * method x sigma pivot over seeds, and a verdict per observation of the
 * study, computed from the data). */
#ifndef CB_RESULTS_STUDY_REPORT_H
#define CB_RESULTS_STUDY_REPORT_H

/* argv[0] is "report"; argv holds --study. Returns 0, or -1 with cb_error
 * set (1 after --help, as cb_cli_parse). */
int cb_study_report(int argc, char **argv);

#endif
