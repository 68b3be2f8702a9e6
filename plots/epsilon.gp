# Cumulative privacy loss epsilon vs epoch on a log axis, one line per noise
# multiplier and privacy setting (epsilon does not depend on the clipping
# method, only on sigma, the sampling rate, the steps and delta), with delta
# and the accountant named. Inputs (-e): FILE (export --query epsilon --group
# series), TITLE, OUTFILE, FMT.
load "plots/style.gp"
NO_RANK = 1
NO_CLIP = 1
load "plots/blocks.gp"
stats FILE using (column("delta")) nooutput
DELTA = STATS_min
DELTA_MAX = STATS_max
ACC = ""
SAMP = ""
stats FILE index 0 using (ACC = strcol("accountant"), SAMP = strcol("sampling"), 0) nooutput
W = 4.2
H = 3.0
load "plots/terminal.gp"
stats FILE using (column("epoch")) nooutput
if (STATS_max <= 12) { set xtics 1 } else { set xtics autofreq }
set title TITLE . sprintf("\n%s accountant, %s sampling", ACC, SAMP) font ",9" noenhanced
set xlabel "epoch"
set ylabel (DELTA == DELTA_MAX ? sprintf("cumulative ε (δ = %g, log scale)", DELTA) : "cumulative ε (log scale; δ per line)")
set logscale y
set format y "%g"
set key bottom right noenhanced
# Sequential blues: darker for more noise.
array BLUES[5] = ["#6baed6", "#3182bd", "#08519c", "#08306b", "#041c3f"]
blue(i) = BLUES[(i - 1) % 5 + 1]
plot for [i = 1:NB] FILE index (i - 1) using "epoch":"epsilon_min":"epsilon_max" \
       with filledcurves lc rgb blue(i) notitle, \
     for [i = 1:NB] FILE index (i - 1) using "epoch":"epsilon" \
       with linespoints lw 1.4 pt 7 ps 0.35 lc rgb blue(i) title columnhead(1)
