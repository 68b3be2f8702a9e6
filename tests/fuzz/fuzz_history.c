/* The accountant history of a checkpoint ([[sigma,q,steps],...], restored on
 * resume): cb_history_from_json on the input.
 *
 * A history that parses holds only valid segments (finite sigma >= 0, q in
 * [0, 1], steps in (0, 2^53]); cb_history_to_json and parsing that again
 * give bit-identical segments and the same text; the total step count does
 * not overflow; a short history accounts (RDP and GDP) to an epsilon that is
 * not NaN. A failure is one line that says it is the accountant history. */
#include "core/base/error.h"
#include "core/privacy/accountant.h"
#include "tests/fuzz/fuzz.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cb_fuzz_history(const uint8_t *data, size_t size) {
  char *text = cb_fuzz_text(data, size);
  if (!text) return 0;
  cb_history h, g;
  cb_history_init(&h);
  cb_history_init(&g);
  cb_error_clear();
  if (cb_history_from_json(&h, text)) {
    cb_fuzz_check_error("cb_history_from_json", "accountant history");
    CB_FUZZ_CHECK(h.n == 0, "a failed parse left %d segments", h.n);
    goto out;
  }
  cb_fuzz_accepted("cb_history_from_json");
  long long total = 0;
  for (int i = 0; i < h.n; i++) {
    const cb_segment *s = &h.seg[i];
    CB_FUZZ_CHECK(isfinite(s->sigma) && s->sigma >= 0, "sigma %g", s->sigma);
    CB_FUZZ_CHECK(s->q >= 0 && s->q <= 1, "q %g", s->q);
    CB_FUZZ_CHECK(s->steps > 0 && s->steps <= (1LL << 53), "steps %lld", s->steps);
    CB_FUZZ_CHECK(total <= LLONG_MAX - s->steps, "total steps overflow long long");
    total += s->steps;
  }
  char *json = cb_history_to_json(&h);
  CB_FUZZ_CHECK(json != NULL, "to_json: %s", cb_last_error());
  CB_FUZZ_CHECK(cb_history_from_json(&g, json) == 0, "our own history JSON does not parse: %s\n%s",
                cb_last_error(), json);
  CB_FUZZ_CHECK(g.n == h.n && (h.n == 0 || memcmp(g.seg, h.seg, sizeof *h.seg * (size_t)h.n) == 0),
                "history differs after a round trip: %s", json);
  char *json2 = cb_history_to_json(&g);
  CB_FUZZ_CHECK(json2 && strcmp(json, json2) == 0, "history JSON changes on a round trip");
  free(json2);
  free(json);
  CB_FUZZ_CHECK(cb_history_steps(&h) == total, "cb_history_steps");
  if (h.n <= 3) {
    cb_accountant acc[2] = {CB_ACC_RDP, CB_ACC_GDP};
    for (int a = 0; a < 2; a++) {
      cb_eps_result r;
      cb_error_clear();
      int rc = cb_epsilon(&h, acc[a], 1e-5, &r);
      CB_FUZZ_CHECK(rc == 0, "%s epsilon of a valid history failed: %s", cb_accountant_name(acc[a]),
                    cb_last_error());
      CB_FUZZ_CHECK(!isnan(r.epsilon) && r.epsilon >= 0, "%s epsilon is %g",
                    cb_accountant_name(acc[a]), r.epsilon);
    }
  }
out:
  cb_history_free(&h);
  cb_history_free(&g);
  free(text);
  return 0;
}

CB_FUZZ_ENTRY(history)
