# Per-sample gradient norms of each clipping group against that group's bound,
# in the last epoch, for one facet: a panel per private method (at the
# smallest noise multiplier and the most common clip bound, as norms.gp), the
# groups in model order on x (tensors or layers as clipped; layers for methods
# that clip the whole gradient), median, p90 and max over the epoch's samples
# (mean over seeds) and the bound in force as black steps: C_k for per-layer
# clipping, the whole gradient's C otherwise (a layer alone above C means its
# sample is clipped). Log scale. Inputs (-e): FILE (export --query group_norms
# --filter facet_file=F --group series), TITLE, OUTFILE, FMT.
load "plots/style.gp"
load "plots/blocks.gp"
CMAIN = NaN
best = 0
do for [i = 1:NB] {
  c = sum [k = 1:NB] (B_CLIP[k] == B_CLIP[i] ? 1 : 0)
  if (c > best) { best = c; CMAIN = B_CLIP[i] }
}
S0 = words(SIGMAS) > 0 ? real(word(SIGMAS, 1)) : NaN
LIST = ""
do for [r = 1:6] {
  pick = 0
  do for [i = 1:NB] {
    if (pick == 0 && B_RANK[i] == r && B_CLIP[i] == CMAIN && abs(B_SIGMA[i] - S0) < 1e-12 * (1 + S0)) { pick = i }
  }
  if (pick > 0) { LIST = LIST . sprintf(" %d", pick) }
}
NP = words(LIST)
# One y range for all panels (the later ones show no tick labels); what each
# panel's bound applies to (read before the ranges are set: stats honours them).
YLO = 1e300; YHI = 0
array SCOPES[NP > 0 ? NP : 1]
do for [p = 1:NP] {
  S = ""
  stats FILE index (int(word(LIST, p)) - 1) using (S = strcol("scope"), 0) nooutput
  SCOPES[p] = S
}
do for [w in LIST] {
  stats FILE index (int(w) - 1) using "median" nooutput
  YLO = STATS_min < YLO ? STATS_min : YLO
  stats FILE index (int(w) - 1) using "pmax" nooutput
  YHI = STATS_max > YHI ? STATS_max : YHI
  stats FILE index (int(w) - 1) using "bound" nooutput
  YHI = STATS_max > YHI ? STATS_max : YHI
  YLO = STATS_min < YLO ? STATS_min : YLO
}
W = NP > 2 ? 7.16 : (NP == 2 ? 6.0 : 4.5)
H = 3.0
load "plots/terminal.gp"
set multiplot title sprintf("%s, last epoch\n(σ = %g, C = %g; mean over seeds)", TITLE, S0, CMAIN) font ",9" noenhanced
set logscale y
if (YHI > 0 && YLO > 0) { set yrange [YLO / 1.5 : YHI * 1.5] }
set xlabel "clipping group (model order)" offset 0, 0.5
# Four narrow panels: at most about five tick labels each, so they never run
# together (per-tensor groups number 50 and more).
set xtics 10
PANEL_BOTTOM = 0.3
if (!exists("PANEL_TOP")) { PANEL_TOP = 0.8 }
PANEL_TOP = PANEL_TOP - 0.09
PANEL_LEFT = NP > 2 ? 0.1 : (NP == 2 ? 0.12 : 0.17)
do for [p = 1:NP] {
  i = int(word(LIST, p))
  SCOPE = SCOPES[p]
  load "plots/panel.gp"
  set title method_name(B_RANK[i]) . (SCOPE eq "model" ? "\n(C on the whole gradient)" : sprintf("\n(C_k per %s)", SCOPE)) offset 0, -0.3 noenhanced
  if (p == 1) { set ylabel "per-sample norm"; set format y "%g" } else { unset ylabel; set format y "" }
  unset key
  c = method_color(B_RANK[i])
  plot FILE index (i - 1) using "grp":"median":"p90" with filledcurves fs transparent solid 0.25 lc rgb c notitle, \
       FILE index (i - 1) using "grp":"median" with lines lw 1.4 lc rgb c notitle, \
       FILE index (i - 1) using "grp":"pmax" with lines lw 0.9 dt 3 lc rgb c notitle, \
       FILE index (i - 1) using "grp":"bound" with lines lw 1.2 dt 2 lc rgb "#000000" notitle
}
set lmargin at screen 0.02
set rmargin at screen 0.98
set bmargin at screen 0.0
set tmargin at screen 0.12
unset border; unset tics; unset xlabel; unset ylabel; unset title; unset grid; unset logscale
set xrange [0:1]; set yrange [0:1]
set key center center horizontal maxrows 1 samplen 2.5
plot NaN with filledcurves fs transparent solid 0.4 lc rgb "#666666" title "median-p90", \
     NaN with lines lw 1.4 lc rgb "#666666" title "median", \
     NaN with lines lw 0.9 dt 3 lc rgb "#666666" title "max", \
     NaN with lines lw 1.2 dt 2 lc rgb "#000000" title "bound in force"
unset multiplot
