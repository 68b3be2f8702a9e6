# Per-class validation Dice of one facet: a group of bars per class (named),
# a bar per method (at the smallest noise multiplier and the most common clip
# bound, as the curves; the non-private run too), mean over seeds with the
# 95% confidence interval (none for one seed). Inputs (-e): FILE (export
# --query class_arms --filter facet_file=F --group label), TITLE, OUTFILE,
# FMT.
load "plots/style.gp"
load "plots/blocks.gp"
CMAIN = NaN
best = 0
do for [i = 1:NB] {
  if (B_CLIP[i] == B_CLIP[i]) {
    c = sum [k = 1:NB] (B_CLIP[k] == B_CLIP[i] ? 1 : 0)
    if (c > best) { best = c; CMAIN = B_CLIP[i] }
  }
}
S0 = words(SIGMAS) > 0 ? real(word(SIGMAS, 1)) : NaN
LIST = ""
do for [r = 0:6] {
  pick = 0
  do for [i = 1:NB] {
    if (pick == 0 && B_RANK[i] == r && (r == 0 || (B_CLIP[i] == CMAIN && abs(B_SIGMA[i] - S0) < 1e-12 * (1 + S0)))) { pick = i }
  }
  if (pick > 0) { LIST = LIST . sprintf(" %d", pick) }
}
NS = words(LIST)
stats FILE using (column("class")) nooutput
NC = int(STATS_max) + 1
W = NC > 6 ? 7.16 : 4.5
H = 3.0
load "plots/terminal.gp"
set multiplot title sprintf("%s\n(σ = %g, C = %g; mean over seeds, bars: 95%% CI)", TITLE, S0, CMAIN) font ",9" noenhanced
PANEL_BOTTOM = 0.3
PANEL_LEFT = NC > 6 ? 0.08 : 0.14
if (!exists("PANEL_TOP")) { PANEL_TOP = 0.8 }
PANEL_TOP = PANEL_TOP - 0.04
NP = 1
p = 1
load "plots/panel.gp"
set style fill solid 0.85 border lc rgb "#333333"
BW = 0.8 / (NS > 0 ? NS : 1)
set boxwidth BW
set xrange [-0.6 : NC - 0.4]
set yrange [0 : 1]
set ylabel "validation Dice"
set xtics rotate by 30 right font ",7" nomirror
unset key
# block of bar k (guarded: gnuplot evaluates styles even for an empty "for")
pick(k) = k <= NS ? int(word(LIST, k)) : 1
xoff(k) = (k - (NS + 1) / 2.0) * BW
plot FILE index (pick(1) - 1) using (column("class") + xoff(1)):"val_dice":xticlabels(strcol("class_name")) \
       with boxes lc rgb method_color(B_RANK[pick(1)]) notitle, \
     for [k = 2:NS] FILE index (pick(k) - 1) using (column("class") + xoff(k)):"val_dice" \
       with boxes lc rgb method_color(B_RANK[pick(k)]) notitle, \
     for [k = 1:NS] FILE index (pick(k) - 1) \
       using (column("class") + xoff(k)):"val_dice":(strcol("val_dice_ci95") eq "NaN" ? 0 : column("val_dice_ci95")) \
       with yerrorbars pt -1 lw 0.8 lc rgb "#333333" notitle
load "plots/method_key.gp"
unset multiplot
