# Privacy audit for one architecture: the epsilon lower bound each method's
# audit proved (empirical; mean over seeds, error bars min-max) against the
# accountant's epsilon (an upper bound), per noise multiplier. A sound engine
# keeps every point under the accountant's line; a point above it is a
# privacy bug and is ringed in red. Inputs (-e): FILE (export --query
# audit_bounds --filter arch=A --group series), TITLE, OUTFILE, FMT.
load "plots/style.gp"
NO_CLIP = 1
load "plots/blocks.gp"
stats FILE using (column("privacy_bugs")) nooutput
BUGS = STATS_max
stats FILE using (column("confidence")) nooutput
CONF = STATS_min
stats FILE using (column("sigma")) nooutput
SLO = STATS_min; SHI = STATS_max
W = 3.5
H = 2.8
load "plots/terminal.gp"
set title sprintf("%s\n{/*0.8 lower bounds at %g%% confidence (empirical)}", TITLE, 100 * CONF) font ",9"
set xlabel "noise multiplier σ"
set ylabel "ε"
set key top right font ",7" spacing 0.9 opaque
set yrange [0:*]
PAD = (SHI > SLO) ? 0.15 * (SHI - SLO) : 0.25 * SHI
set xrange [SLO - PAD : SHI + PAD]
# methods side by side around each sigma
dx(i) = (SHI > SLO ? 0.04 * (SHI - SLO) : 0.05 * SHI) * (i - (NB + 1) / 2.0)
plot for [i = 1:NB] FILE index (i - 1) using "sigma":"epsilon" \
       with linespoints dt 2 lw 1.3 pt 6 ps 0.5 lc rgb "#000000" \
       title (i == 1 ? "accountant ε (upper bound)" : ""), \
     for [i = 1:NB] FILE index (i - 1) \
       using (column("sigma") + dx(i)):"epsilon_lb":"epsilon_lb_min":"epsilon_lb_max" \
       with yerrorbars lw 1.3 pt method_pt(B_RANK[i]) ps 0.7 lc rgb method_color(B_RANK[i]) \
       title columnhead(1), \
     for [i = 1:NB] FILE index (i - 1) \
       using (column("sigma") + dx(i)):(column("privacy_bugs") > 0 ? column("epsilon_lb_max") : NaN) \
       with points pt 6 ps 2.2 lw 2 lc rgb "#d00000" \
       title ((i == 1 && BUGS > 0) ? "privacy bug (lower bound > ε)" : "")
