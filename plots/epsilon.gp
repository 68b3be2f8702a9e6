# Privacy loss epsilon vs epoch, one line per noise multiplier (epsilon does
# not depend on the clipping method, only on sigma, the sampling rate and the
# steps). Inputs (-e): FILE (export --query epsilon --group series), TITLE,
# OUTFILE, FMT.
load "plots/style.gp"
NO_RANK = 1
NO_CLIP = 1
load "plots/blocks.gp"
stats FILE using (column("delta")) nooutput
DELTA = STATS_min
W = 3.5
H = 2.6
load "plots/terminal.gp"
set title TITLE font ",9"
set xlabel "epoch"
set ylabel sprintf("privacy loss ε (δ = %g)", DELTA)
set key top left title "noise multiplier"
# Sequential blues: darker for more noise.
array BLUES[5] = ["#6baed6", "#3182bd", "#08519c", "#08306b", "#041c3f"]
blue(i) = BLUES[(i - 1) % 5 + 1]
plot for [i = 1:NB] FILE index (i - 1) using "epoch":"epsilon_min":"epsilon_max" \
       with filledcurves lc rgb blue(i) notitle, \
     for [i = 1:NB] FILE index (i - 1) using "epoch":"epsilon" \
       with linespoints lw 1.4 pt 7 ps 0.35 lc rgb blue(i) title columnhead(1)
