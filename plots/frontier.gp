# Privacy-utility frontier for one architecture: final validation Dice and
# pixel accuracy against epsilon, one line per method through its noise
# multipliers (mean over seeds, error bars min-max); the non-private result
# as a horizontal reference. Inputs (-e): FILE (export --query frontier
# --filter arch=A --group series), TITLE, OUTFILE, FMT.
load "plots/style.gp"
load "plots/blocks.gp"
# Lines for the most common clip bound (others: heatmap.gp).
CMAIN = NaN
best = 0
do for [i = 1:NB] {
  if (B_CLIP[i] == B_CLIP[i]) {
    c = sum [k = 1:NB] (B_CLIP[k] == B_CLIP[i] ? 1 : 0)
    if (c > best) { best = c; CMAIN = B_CLIP[i] }
  }
}
PRIV = ""; NONP = 0
do for [i = 1:NB] {
  if (B_RANK[i] == 0) { NONP = i }
  if (B_RANK[i] > 0 && B_CLIP[i] == CMAIN) { PRIV = PRIV . sprintf(" %d", i) }
}
NP = 2
W = 7.16
H = 2.7
load "plots/terminal.gp"
stats FILE using (column("delta")) nooutput
DELTA = STATS_min
ACC = ""
do for [w in PRIV] { stats FILE index (int(w) - 1) using (ACC = strcol("accountant"), 0) nooutput }
set multiplot title sprintf("%s (C = %g; ε at δ = %g, %s accountant; mean over seeds, bars: min-max)", TITLE, CMAIN, DELTA, ACC) font ",9" noenhanced
set logscale x
set xtics ("0.5" 0.5, "1" 1, "2" 2, "5" 5, "10" 10, "20" 20, "50" 50, "100" 100, "200" 200, "500" 500, "1000" 1000)
set xlabel "privacy loss ε (log scale)" offset 0, 0.5
array YCOL[2] = ["val_dice", "val_acc"]
array YLAB[2] = ["final validation mean Dice", "final validation pixel accuracy"]
PANEL_GAP = 0.12
PANEL_LEFT = 0.1
do for [p = 1:2] {
  load "plots/panel.gp"
  unset key
  unset arrow
  unset label
  set ylabel YLAB[p]
  # axis ranges over the plotted series only (stats first: it honours the
  # current ranges)
  set autoscale y
  set autoscale x
  YLO = 1e300; YHI = -1e300; XLO = 1e300; XHI = -1e300
  do for [w in PRIV] {
    stats FILE index (int(w) - 1) using (column(YCOL[p] . "_min")) nooutput
    YLO = STATS_min < YLO ? STATS_min : YLO
    stats FILE index (int(w) - 1) using (column(YCOL[p] . "_max")) nooutput
    YHI = STATS_max > YHI ? STATS_max : YHI
    stats FILE index (int(w) - 1) using (column("epsilon")) nooutput
    XLO = STATS_min < XLO ? STATS_min : XLO
    XHI = STATS_max > XHI ? STATS_max : XHI
  }
  if (NONP > 0) {
    stats FILE index (NONP - 1) using (column(YCOL[p])) nooutput
    YLO = STATS_min < YLO ? STATS_min : YLO
    YHI = STATS_max > YHI ? STATS_max : YHI
  }
  if (NONP > 0) {
    stats FILE index (NONP - 1) using (column(YCOL[p])) nooutput
    YNP = STATS_mean
    set arrow from graph 0, first YNP to graph 1, first YNP nohead dt 2 lw 1.2 lc rgb "#000000"
    set label "non-private" at graph 0.02, first YNP offset 0, -0.7 font ",7"
  }
  set yrange [YLO - 0.05 * (YHI - YLO + 1e-9) : YHI + 0.08 * (YHI - YLO + 1e-9)]
  if (XHI > 0) { set xrange [XLO / 1.6 : XHI * 1.6] }
  plot for [w in PRIV] FILE index (int(w) - 1) \
         using "epsilon":(column(YCOL[p])):(column(YCOL[p] . "_min")):(column(YCOL[p] . "_max")) \
         with yerrorlines lw 1.4 pt method_pt(B_RANK[int(w)]) ps 0.6 lc rgb method_color(B_RANK[int(w)]) notitle, \
       for [w in PRIV] FILE index (int(w) - 1) using "epsilon":(column(YCOL[p])):(sprintf("σ=%g", column("sigma"))) \
         with labels offset char 0.3, char 0.7 left font ",6" tc rgb method_color(B_RANK[int(w)]) notitle
}
KEY_NO_NONPRIVATE = 1
load "plots/method_key.gp"
unset multiplot
