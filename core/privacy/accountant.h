/* Privacy accounting for DP-SGD with the Poisson-subsampled Gaussian mechanism.
 *
 * A training run is described by a history of segments (sigma, q, steps):
 * `steps` consecutive logical steps with noise multiplier sigma and Poisson
 * sampling rate q. Three accountants turn a history and delta into epsilon:
 *
 *   rdp  Renyi DP exactly as Opacus (151 default orders, Balle et al. 2020
 *        conversion). A guarantee; the optimal order is reported.
 *   prv  Privacy loss random variables (Gopi et al. 2021) with Opacus's
 *        defaults (eps_error 0.01, delta_error delta/1000), composed with FFTW.
 *        The upper bound is reported, so it is a guarantee up to the stated
 *        numerical error. Where it cannot be computed (huge epsilon, tiny
 *        delta, grid too large) the RDP value is reported instead and the
 *        result says so.
 *   gdp  Gaussian DP via the central limit theorem (Bu et al. 2019). An
 *        approximation that can be optimistic; never a guarantee.
 *   pld  Privacy loss distributions as dp_accounting's PLDAccountant
 *        (connect-the-dots pessimistic discretisation at interval 1e-4, both
 *        add and remove directions, FFT composition; see pld.h). An upper
 *        bound. Where it cannot be computed (grid too large, tiny delta) the
 *        RDP value is reported instead and the result says so.
 *
 * Add/remove-one adjacency, L2 sensitivity 1 (noise std = sigma * C).
 * Formulas, test vectors and pitfalls: ../shared/reference/accounting.md. */
#ifndef CB_PRIVACY_ACCOUNTANT_H
#define CB_PRIVACY_ACCOUNTANT_H

#include <stddef.h>

/* ---- history ------------------------------------------------------------ */

typedef struct {
  double sigma;    /* noise multiplier, >= 0 */
  double q;        /* Poisson sampling rate, in [0, 1] */
  long long steps; /* > 0 */
} cb_segment;

typedef struct {
  cb_segment *seg;
  int n, cap;
} cb_history;

void cb_history_init(cb_history *h);
void cb_history_free(cb_history *h);
void cb_history_clear(cb_history *h);
/* Records `steps` steps with (sigma, q); merges with the last segment when
 * sigma and q are bit-identical (as Opacus does). steps == 0 is a no-op.
 * Returns -1 (cb_error set) for sigma < 0, q outside [0, 1], non-finite
 * values, negative steps, or a total beyond 2^53 steps. */
int cb_history_add(cb_history *h, double sigma, double q, long long steps);
/* Appends every segment of src to dst (merging at the junction). */
int cb_history_append(cb_history *dst, const cb_history *src);
int cb_history_copy(cb_history *dst, const cb_history *src);
long long cb_history_steps(const cb_history *h);

/* Compact JSON: [[sigma,q,steps],...], doubles with 17 significant digits so
 * that a history restored from a checkpoint merges and accounts exactly like
 * the original. Returns a malloc'd string (free it), NULL on out of memory. */
char *cb_history_to_json(const cb_history *h);
/* Replaces h's content with the parsed history. On a malformed string it
 * returns -1 with a message naming the character offset and what was
 * expected; h is then left empty. */
int cb_history_from_json(cb_history *h, const char *json);

/* ---- accountants --------------------------------------------------------- */

typedef enum { CB_ACC_RDP = 0, CB_ACC_PRV, CB_ACC_GDP, CB_ACC_PLD, CB_ACC_COUNT } cb_accountant;

/* "rdp", "prv", "gdp", "pld"; NULL-terminated list for CLI choices. */
extern const char *const CB_ACC_NAMES[];
const char *cb_accountant_name(cb_accountant a);
/* Returns 0 and sets *a for a known name, -1 (cb_error set) otherwise. */
int cb_accountant_parse(const char *name, cb_accountant *a);

#define CB_EPS_NOTE_MAX 256

typedef struct {
  double epsilon;
  double delta;
  double alpha;               /* RDP optimal order; NaN for PRV/GDP/PLD or when epsilon is inf */
  cb_accountant requested;    /* what the caller asked for */
  cb_accountant accountant;   /* what produced `epsilon` (PRV may fall back to RDP) */
  int is_guarantee;           /* 1 for RDP, PRV and PLD upper bounds, 0 for GDP */
  char note[CB_EPS_NOTE_MAX]; /* why a fallback happened, or what the number is */
} cb_eps_result;

/* Epsilon spent by the history at delta in (0, 1). An empty history spends 0.
 * Never optimistic: where a computation is uncertain the larger value is
 * reported (see the accountant notes above). Returns -1 (cb_error set) only for
 * invalid arguments; a PRV or PLD that cannot be computed is not an error
 * (fallback). Cheap enough to call every epoch: RDP values per (sigma, q) are
 * cached per thread, PRV and PLD of 1e5 steps take well under 500 ms. */
int cb_epsilon(const cb_history *h, cb_accountant acc, double delta, cb_eps_result *r);

/* Delta spent by the history at epsilon >= 0 under the PLD accountant (the
 * inverse of cb_epsilon with CB_ACC_PLD, pessimistic like it). Returns -1
 * (cb_error set) for invalid arguments or where the PLD cannot be computed. */
int cb_delta_pld(const cb_history *h, double epsilon, double *delta);

/* ---- noise multiplier for a target epsilon -------------------------------- */

typedef struct {
  double sigma;      /* smallest noise multiplier found; its epsilon < target */
  cb_eps_result eps; /* the accounting of that sigma */
  int evaluations;   /* how many epsilons were computed */
} cb_sigma_result;

#define CB_SIGMA_TOLERANCE 0.01 /* Opacus get_noise_multiplier epsilon_tolerance */
#define CB_SIGMA_MAX 1e6

/* Opacus's get_noise_multiplier search, for `steps` steps at sampling rate q:
 * sigma_hi = 20, 40, ... until epsilon(sigma_hi) < target, then bisection on
 * [0, sigma_hi] until target - epsilon(sigma_hi) <= tolerance. Returns
 * sigma_hi, so the epsilon of the returned sigma never exceeds the target.
 * Returns -1 (cb_error set) for invalid arguments or when even sigma = 1e6
 * does not reach the target. */
int cb_sigma_search(double q, long long steps, double delta, double target_epsilon,
                    cb_accountant acc, cb_sigma_result *out);
int cb_sigma_search_tol(double q, long long steps, double delta, double target_epsilon,
                        cb_accountant acc, double tolerance, cb_sigma_result *out);

/* ---- conventions shared by the CLI and the training runner ----------------- */

/* How a batch size B over N training examples becomes the sampling rate q
 * (experiment key dp.sample_rate, CLI --sample-rate-rule). One rule serves
 * `clipbench run`, `epsilon`, `sigma`, the database and the report:
 *   batch_over_n  q = B / N (min 1): Poisson sampling with expected batch B;
 *                 the noisy sum is divided by q N = B. The default.
 *   opacus        q = 1 / len(loader) = 1 / ceil(N / B), as Opacus derives it
 *                 from a DataLoader; the noisy sum is divided by int(N q)
 *                 (Opacus's expected_batch_size), e.g. N 66, B 10: q 1/7, /9.
 * Either way an epoch is ceil(N / B) logical steps. */
typedef enum { CB_QRULE_BATCH_OVER_N = 0, CB_QRULE_OPACUS } cb_q_rule;
extern const char *const CB_Q_RULE_NAMES[]; /* batch_over_n opacus */
/* q under `rule`; NaN for B <= 0 or N <= 0. */
double cb_sample_rate(cb_q_rule rule, long long batch_size, long long dataset_size);
/* The divisor of the noisy sum for q over N examples under `rule`. */
double cb_expected_batch(cb_q_rule rule, double q, long long dataset_size);
/* Logical steps of one epoch: ceil(N / B); -1 for invalid input. */
long long cb_steps_per_epoch(long long batch_size, long long dataset_size);
/* Opacus's rule: cb_sample_rate(CB_QRULE_OPACUS, B, N). */
double cb_sample_rate_for_batch(long long batch_size, long long dataset_size);
/* Steps of `epochs` epochs at sampling rate q: ceil(epochs / q), where a
 * quotient within 1e-9 (relative) of an integer counts as that integer, so
 * 90 epochs at q = 0.04 are 2250 steps (as Opacus's int(90 / 0.04)) and
 * 100 epochs at q = 1/7 are 700. Returns -1 for invalid input. */
long long cb_steps_for_epochs(double epochs, double q);

#endif
