# Per-sample gradient norms against the clip bound, for one architecture: a
# panel per private method (at the smallest noise multiplier and the most
# common clip bound), with the p10-p90 band, the p25-p75 band, the median,
# p99 and the bound in force (dashed). Log scale: norms span decades.
# Inputs (-e): FILE (export --query norm_bands --filter arch=A --group
# series), TITLE, OUTFILE, FMT.
load "plots/style.gp"
load "plots/blocks.gp"
# Whole epochs on the x axis.
stats FILE using (column("epoch")) nooutput
if (STATS_max <= 12) { set xtics 1 } else { set xtics autofreq }
CMAIN = NaN
best = 0
do for [i = 1:NB] {
  c = sum [k = 1:NB] (B_CLIP[k] == B_CLIP[i] ? 1 : 0)
  if (c > best) { best = c; CMAIN = B_CLIP[i] }
}
S0 = words(SIGMAS) > 0 ? real(word(SIGMAS, 1)) : NaN
# The block shown for each method.
LIST = ""
do for [r = 1:6] {
  pick = 0
  do for [i = 1:NB] {
    if (pick == 0 && B_RANK[i] == r && B_CLIP[i] == CMAIN && abs(B_SIGMA[i] - S0) < 1e-12 * (1 + S0)) { pick = i }
  }
  if (pick > 0) { LIST = LIST . sprintf(" %d", pick) }
}
NP = words(LIST)
W = NP > 2 ? 7.16 : 3.5 * NP
H = 2.6
load "plots/terminal.gp"
set multiplot title sprintf("%s (σ = %g, C = %g; mean over seeds)", TITLE, S0, CMAIN) font ",9" noenhanced
set logscale y
set xlabel "epoch" offset 0, 0.5
PANEL_BOTTOM = 0.3
PANEL_LEFT = NP > 2 ? 0.08 : 0.16
do for [p = 1:NP] {
  i = int(word(LIST, p))
  load "plots/panel.gp"
  # per-layer bounds each tensor, not the total norm drawn here
  set title method_name(B_RANK[i]) . (B_RANK[i] == 2 ? " (C per tensor)" : "") offset 0, -0.5
  if (p == 1) { set ylabel "per-sample gradient norm"; set format y "%g" } else { unset ylabel; set format y "" }
  unset key
  c = method_color(B_RANK[i])
  plot FILE index (i - 1) using "epoch":"p10":"p90" with filledcurves fs transparent solid 0.18 lc rgb c notitle, \
       FILE index (i - 1) using "epoch":"p25":"p75" with filledcurves fs transparent solid 0.35 lc rgb c notitle, \
       FILE index (i - 1) using "epoch":"p50" with lines lw 1.6 lc rgb c notitle, \
       FILE index (i - 1) using "epoch":"p99" with lines lw 0.9 dt 3 lc rgb c notitle, \
       FILE index (i - 1) using "epoch":(B_RANK[i] == 2 ? NaN : column("clip_bound_now")) \
         with lines lw 1.2 dt 2 lc rgb "#000000" notitle
}
# The key along the bottom, in grey (colours are the methods').
set lmargin at screen 0.02
set rmargin at screen 0.98
set bmargin at screen 0.0
set tmargin at screen 0.12
unset border; unset tics; unset xlabel; unset ylabel; unset title; unset grid; unset logscale
set xrange [0:1]; set yrange [0:1]
set key center center horizontal maxrows 1 samplen 2.5
plot NaN with filledcurves fs transparent solid 0.25 lc rgb "#666666" title "p10-p90", \
     NaN with filledcurves fs transparent solid 0.5 lc rgb "#666666" title "p25-p75", \
     NaN with lines lw 1.6 lc rgb "#666666" title "median", \
     NaN with lines lw 0.9 dt 3 lc rgb "#666666" title "p99", \
     NaN with lines lw 1.2 dt 2 lc rgb "#000000" title "clip bound C"
unset multiplot
