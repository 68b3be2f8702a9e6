/* Busy processes for `clipbench bench --background-load N`: a reproducible
 * stand-in for the other programs of a shared machine. They exist only
 * while the bench runs: ended by cb_load_end(), by a signal handler on
 * SIGINT/SIGTERM/SIGHUP/SIGQUIT, and by the kernel (PR_SET_PDEATHSIG) if the
 * bench itself dies any other way. */
#ifndef CB_CLI_BENCH_LOAD_H
#define CB_CLI_BENCH_LOAD_H

#include <sys/types.h>

#define CB_LOAD_MAX 64

/* Starts n processes that spin on a CPU, stopped (SIGSTOP) until
 * cb_load_run(1). Each names itself "cb-busy" (comm). 0, or -1 with
 * cb_error set (and none left running). */
int cb_load_start(int n);
/* Lets the busy processes run (on = 1) or stops them (on = 0). */
void cb_load_run(int on);
/* Kills and reaps them and restores the default signal actions. */
void cb_load_end(void);
/* Their process ids (valid until cb_load_end). */
int cb_load_pids(const pid_t **pids);

#endif
