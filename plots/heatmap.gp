# Final validation Dice on the clip bound x noise multiplier grid, one panel
# per (architecture, method) swept over both axes, cells labelled with their
# value (mean over seeds). Inputs (-e): FILE (export --query heatmap --group
# series), TITLE, OUTFILE, FMT.
load "plots/style.gp"
NO_RANK = 1
load "plots/blocks.gp"
NP = NB
# Block names (the header line of each block starts with its series).
TITLES = system(sprintf("awk -F'\t' '$2 == \"arch\" {print $1}' '%s'", FILE))
W = NP > 1 ? 7.16 : 3.5
H = 2.8
load "plots/terminal.gp"
set multiplot title TITLE font ",9" noenhanced
# a colour-blind-safe sequential palette (viridis-like)
set palette defined (0 "#440154", 0.25 "#3b528b", 0.5 "#21918c", 0.75 "#5ec962", 1 "#fde725")
stats FILE using (column("val_dice")) nooutput
set cbrange [STATS_min : STATS_max]
set cblabel "final validation mean Dice" offset 1, 0
set xlabel "clip bound C"
set ylabel "noise multiplier σ"
unset key
unset grid
set tics scale 0
set style fill solid 1.0 noborder
MID = (STATS_min + STATS_max) / 2
PANEL_BOTTOM = 0.16
PANEL_LEFT = NP > 1 ? 0.08 : 0.15
PANEL_RIGHT = 0.78
PANEL_GAP = 0.1
do for [p = 1:NP] {
  load "plots/panel.gp"
  set title word(TITLES, p) noenhanced
  stats FILE index (p - 1) using (column("xi")) nooutput
  set xrange [-0.5 : STATS_max + 0.5]
  stats FILE index (p - 1) using (column("yi")) nooutput
  set yrange [-0.5 : STATS_max + 0.5]
  if (p > 1) { unset ylabel }
  if (p < NP) { unset colorbox } else { set colorbox user origin screen 0.81, screen 0.16 size screen 0.025, screen 0.69 }
  plot FILE index (p - 1) using "xi":"yi":(0.5):(0.5):"val_dice":xticlabels(sprintf("%g", column("clip_bound"))):yticlabels(sprintf("%g", column("sigma"))) \
         with boxxyerror fs solid 1.0 noborder fc palette, \
       FILE index (p - 1) using "xi":"yi":(column("val_dice") < MID ? sprintf("%.3f", column("val_dice")) : "") \
         with labels tc rgb "#ffffff" font ",7", \
       FILE index (p - 1) using "xi":"yi":(column("val_dice") >= MID ? sprintf("%.3f", column("val_dice")) : "") \
         with labels tc rgb "#000000" font ",7"
}
unset multiplot
