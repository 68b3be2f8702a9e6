# Training time per method: seconds per epoch and per run, one bar per method
# for each architecture (mean over runs, error bars min-max).
# Inputs (-e): FILE (export --query method_time), ARCHS (the architectures in
# sorted order, for the key), TITLE, OUTFILE, FMT.
load "plots/style.gp"
stats FILE using (column("arch_rank")) nooutput
NA = int(STATS_max)
stats FILE using (column("method_rank")) nooutput
RMAX = int(STATS_max)
NP = 2
W = 7.16
H = 2.6
load "plots/terminal.gp"
set multiplot title TITLE font ",9" noenhanced
set style fill solid 0.85 border lc rgb "#333333"
set boxwidth 0.8 / NA
set xrange [-0.6:RMAX + 0.6]
set xtics ("non-private" 0, "flat" 1, "per-layer" 2, "automatic" 3, "random\nsparsif." 4, "adaptive" 5) font ",7"
set grid noxtics ytics
set yrange [0:*]
array YCOL[2] = ["epoch_seconds", "run_seconds"]
array YLAB[2] = ["seconds per epoch", "seconds per run (training)"]
# architecture shades: the method colour, lighter for the second one
xpos(rank, a) = rank + (a - (NA + 1) / 2.0) * 0.8 / NA
PANEL_GAP = 0.08
PANEL_BOTTOM = 0.25
do for [p = 1:2] {
  load "plots/panel.gp"
  set ylabel YLAB[p]
  unset key
  if (p == 2) { set key top left noenhanced }
  plot for [a = 1:NA] FILE using (column("arch_rank") == a ? xpos(column("method_rank"), a) : NaN):(column(YCOL[p])) \
         :(method_rgb(column("method_rank"))) with boxes lc rgb variable \
         fs solid (a == 1 ? 0.85 : 0.4) notitle, \
       FILE using (xpos(column("method_rank"), column("arch_rank"))):(column(YCOL[p] . "_min")) \
         :(0):(column(YCOL[p] . "_max") - column(YCOL[p] . "_min")) \
         with vectors heads size screen 0.006, 90 lw 0.8 lc rgb "#333333" notitle, \
       for [a = 1:NA] NaN with boxes fs solid (a == 1 ? 0.85 : 0.4) lc rgb "#777777" \
         title (exists("ARCHS") ? arch_name(word(ARCHS, a)) : sprintf("architecture %d", a))
}
unset multiplot
