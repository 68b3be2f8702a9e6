# Training time per method: seconds per epoch and per run, one bar per method
# for each facet (architecture and the other keys the runs vary in; mean over
# runs, error bars min-max), the DP overhead (seconds per epoch over the
# non-private runs' of the same facet) printed over each private bar, and the
# key below the panels. Inputs (-e): FILE (export --query method_time),
# TITLE, OUTFILE, FMT.
load "plots/style.gp"
stats FILE using (column("arch_rank")) nooutput
NA = int(STATS_max)
stats FILE using (column("method_rank")) nooutput
RMAX = int(STATS_max)
# the facet of each bar shade, from the data
array FACETS[NA]
do for [a = 1:NA] {
  F = ""
  stats FILE using (column("arch_rank") == a ? (F = strcol("facet"), 0) : 0) nooutput
  FACETS[a] = F
}
shade(a) = NA > 1 ? 0.85 - 0.55 * (a - 1) / (NA - 1) : 0.85
NP = 2
W = 7.16
H = 2.9
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
PANEL_BOTTOM = 0.3
do for [p = 1:2] {
  load "plots/panel.gp"
  set ylabel YLAB[p]
  set yrange [0:*]
  unset key
  plot for [a = 1:NA] FILE using (column("arch_rank") == a ? xpos(column("method_rank"), a) : NaN):(column(YCOL[p])) \
         :(method_rgb(column("method_rank"))) with boxes lc rgb variable \
         fs solid shade(a) notitle, \
       FILE using (xpos(column("method_rank"), column("arch_rank"))):(column(YCOL[p] . "_min")) \
         :(0):(column(YCOL[p] . "_max") - column(YCOL[p] . "_min")) \
         with vectors heads size screen 0.006, 90 lw 0.8 lc rgb "#333333" notitle, \
       FILE using (xpos(column("method_rank"), column("arch_rank"))):(column(YCOL[p] . "_max")) \
         :(column("method_rank") > 0 && strcol("overhead") ne "NaN" ? sprintf("×%.2f", column("overhead")) : "") \
         with labels offset 0, char 0.6 font ",6" notitle
}
# The key below the panels: one shade per facet, and what the numbers are.
set lmargin at screen 0.02
set rmargin at screen 0.98
set bmargin at screen 0.0
set tmargin at screen 0.14
unset border; unset tics; unset xlabel; unset ylabel; unset title; unset grid
set xrange [0:1]; set yrange [0:1]
set key center center horizontal maxrows 2 samplen 1.5 noenhanced
plot for [a = 1:NA] NaN with boxes fs solid shade(a) lc rgb "#777777" \
       title (FACETS[a] eq "unet" ? "U-Net" : FACETS[a] eq "nested_unet" ? "Nested U-Net" : FACETS[a]), \
     NaN with points pt -1 title "×r: seconds per epoch ÷ non-private"
unset multiplot
