/* How many CPU cores this process may use, and OpenMP threads that yield
 * those cores instead of spinning on them.
 *
 * A thread count from the machine's core count oversubscribes a process that
 * was given less (a CPU affinity mask, a cgroup v2 CPU quota as in Docker
 * --cpus or systemd CPUQuota, SLURM's --cpus-per-task). And libgomp's default
 * wait policy spins idle threads for milliseconds at every barrier, so when
 * one foreign process takes a core, a parallel region waits a scheduler time
 * slice for its preempted thread while the others burn the remaining cores
 * spinning: a step measured 25x slower with one busy process on 2 cores. */
#ifndef CB_BASE_CORES_H
#define CB_BASE_CORES_H

#include <stddef.h>

/* The cores this process may use: the smallest of its CPU affinity mask,
 * its cgroup v2 cpu.max quota (rounded up; every ancestor cgroup counts) and
 * SLURM_CPUS_PER_TASK. Writes which limit decided it to why (e.g.
 * "cgroup cpu.max 150000/100000", "affinity 2 of 8") when why != NULL. */
int cb_cores_available(char *why, size_t n);

/* The CPU quota of the cgroup v2 hierarchy mounted at root for the process
 * whose /proc/PID/cgroup is cgroup_file, in whole cores rounded up; 0 when
 * there is none (no cgroup v2, "max", or unreadable). The smallest over the
 * cgroup and its ancestors. Split out so tests can point it at fixtures. */
int cb_cgroup_cpu_quota(const char *cgroup_file, const char *root, char *why, size_t n);

/* Threads for OpenMP and OpenBLAS when the user did not choose: the value of
 * OMP_NUM_THREADS when that is set, else cb_cores_available(). */
int cb_default_threads(void);

/* libgomp reads OMP_WAIT_POLICY and GOMP_SPINCOUNT once, in its constructor,
 * before main(): setting them in main is too late, and so is a constructor
 * or .preinit_array function of ours (glibc's own start-up then resets the
 * environment to the one the process was started with; measured). So when
 * the user set neither, this sets OMP_WAIT_POLICY=passive (idle OpenMP
 * threads, ours and OpenBLAS's, sleep at once instead of spinning) plus
 * CLIPBENCH_OMP_DEFAULTS=1 and executes this program (/proc/self/exe) again with the same
 * arguments. Returns only when nothing had to change or the exec failed (the
 * program then runs on with the spinning default and a warning). */
void cb_omp_wait_policy_reexec(char **argv);

/* "passive (set by clipbench)", "active (OMP_WAIT_POLICY)", ...: what the
 * OpenMP threads of this process do when idle, for reports. */
const char *cb_omp_wait_policy_desc(void);

#endif
