# One learning curve per method and noise multiplier, for one architecture:
# a panel per noise multiplier, a colour per method, the non-private run in
# black in every panel; lines are the mean over seeds, bands the min-max range.
# Series with another clip bound than the most common one are left to
# heatmap.gp. Inputs (-e): FILE (export --query curves --filter arch=A
# --group series), METRIC (train_loss, val_loss, val_acc or val_dice), YLABEL,
# TITLE, OUTFILE, FMT.
load "plots/style.gp"
load "plots/blocks.gp"
# Whole epochs on the x axis.
stats FILE using (column("epoch")) nooutput
if (STATS_max <= 12) { set xtics 1 } else { set xtics autofreq }

# The most common clip bound among the private series.
CMAIN = NaN
best = 0
do for [i = 1:NB] {
  if (B_CLIP[i] == B_CLIP[i]) {
    c = sum [k = 1:NB] (B_CLIP[k] == B_CLIP[i] ? 1 : 0)
    if (c > best) { best = c; CMAIN = B_CLIP[i] }
  }
}
shown(i, s) = B_RANK[i] == 0 || (abs(B_SIGMA[i] - s) < 1e-12 * (1 + s) && B_CLIP[i] == CMAIN)

# One y range for all panels, so they compare at a glance.
stats FILE using (column(METRIC . "_min")) nooutput
YLO = STATS_min
stats FILE using (column(METRIC . "_max")) nooutput
YHI = STATS_max
PAD = (YHI - YLO) * 0.05 + 1e-9
set yrange [YLO - PAD : YHI + PAD]

NP = words(SIGMAS) > 0 ? words(SIGMAS) : 1
# one panel: wide enough for the title, with room for the y label
W = NP > 1 ? 7.16 : 4.5
if (NP == 1) { PANEL_LEFT = 0.15 }
H = 2.7
load "plots/terminal.gp"
# Panels side by side; the key, one entry per method, along the bottom.
# Name the clip bound of the private curves shown whenever some series use
# another one (those are drawn by heatmap.gp, never merged into these).
NOTHER = 0
do for [i = 1:NB] { if (B_CLIP[i] == B_CLIP[i] && B_CLIP[i] != CMAIN) { NOTHER = NOTHER + 1 } }
FULLTITLE = NOTHER > 0 ? sprintf("%s; C = %g (other C: heat map)", TITLE, CMAIN) : TITLE
set multiplot title FULLTITLE font ",9" noenhanced
set xlabel "epoch" offset 0, 0.5
do for [p = 1:NP] {
  load "plots/panel.gp"
  s = words(SIGMAS) > 0 ? real(word(SIGMAS, p)) : -1
  if (words(SIGMAS) > 0) { set title sprintf("noise multiplier σ = %g", s) offset 0, -0.5 } else { unset title }
  if (p == 1) { set ylabel YLABEL; set format y "%g" } else { unset ylabel; set format y "" }
  unset key
  LIST = ""
  do for [i = 1:NB] { if (shown(i, s)) { LIST = LIST . sprintf(" %d", i) } }
  plot for [w in LIST] FILE index (int(w) - 1) \
         using "epoch":(column(METRIC . "_min")):(column(METRIC . "_max")) \
         with filledcurves lc rgb method_color(B_RANK[int(w)]) notitle, \
       for [w in LIST] FILE index (int(w) - 1) using "epoch":(column(METRIC)) \
         with linespoints lw 1.4 pt method_pt(B_RANK[int(w)]) ps 0.45 lc rgb method_color(B_RANK[int(w)]) \
         notitle
}
load "plots/method_key.gp"
unset multiplot
