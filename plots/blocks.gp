# Reads the blocks of a gnuplot data file made by `clipbench export --group`:
# NB blocks; per block B_RANK (method_rank column, if any), B_SIGMA (sigma
# column, NaN if absent or missing) and B_CLIP (clip_bound column).
# Input: FILE. The file must exist and hold at least one block.
stats FILE using 0 nooutput
NB = STATS_blocks
array B_RANK[NB]
array B_SIGMA[NB]
array B_CLIP[NB]
do for [i = 1:NB] {
  B_RANK[i] = 0; B_SIGMA[i] = NaN; B_CLIP[i] = NaN
  stats FILE index (i - 1) using (exists("NO_RANK") ? 0 : column("method_rank")) nooutput
  B_RANK[i] = STATS_min
  # missing values read as -1 so that stats always has data
  stats FILE index (i - 1) using (strcol("sigma") eq "NaN" ? -1 : column("sigma")) nooutput
  if (STATS_min >= 0) { B_SIGMA[i] = STATS_min }
  if (!exists("NO_CLIP")) {
    stats FILE index (i - 1) using (strcol("clip_bound") eq "NaN" ? -1 : column("clip_bound")) nooutput
    if (STATS_min >= 0) { B_CLIP[i] = STATS_min }
  }
}
# Distinct noise multipliers in increasing order, as a word list SIGMAS.
SIGMAS = ""
do for [i = 1:NB] {
  if (B_SIGMA[i] == B_SIGMA[i]) {
    s = sprintf("%g", B_SIGMA[i])
    found = 0
    do for [w in SIGMAS] { if (w eq s) { found = 1 } }
    if (!found) { SIGMAS = SIGMAS . " " . s }
  }
}
# sigma index (1-based) of a block, for its dash type
sigma_index(i) = (B_SIGMA[i] != B_SIGMA[i]) ? 1 : sum [k = 1:words(SIGMAS)] (abs(real(word(SIGMAS, k)) - B_SIGMA[i]) < 1e-12 * (1 + B_SIGMA[i]) ? k : 0)
# With FACETED set, the data's facet column (architecture, then the values of
# the other keys the sweep varies, e.g. "unet train.lr=0.01") leads the title,
# so a figure names every key that tells it apart from its siblings.
if (exists("FACETED")) {
  FACET = ""
  stats FILE index 0 using (FACET = strcol("facet"), 0) nooutput
  FA = word(FACET, 1)
  FACET_TITLE = (FA eq "nested_unet" ? "Nested U-Net" : FA eq "unet" ? "U-Net" : FA) . \
                (strlen(FACET) > strlen(FA) ? ", " . FACET[strlen(FA) + 2:] : "")
  # the varying keys on a line of their own, and room for it
  if (strlen(FACET) > strlen(FA)) {
    TITLE = FACET_TITLE . "\n" . TITLE
    PANEL_TOP = 0.78
  } else {
    TITLE = FACET_TITLE . ": " . TITLE
  }
}
