# Privacy audit for one architecture: the epsilon lower bound each method's
# audit proved (empirical; mean over seeds, error bars min-max) against the
# accountant's epsilon (an upper bound), per noise multiplier. A sound engine
# keeps every point under the accountant's line; a point above it is a
# privacy bug and is ringed in red. A non-private run's audit (no noise) is a
# grey line: the most these audit settings can prove. Inputs (-e): FILE
# (export --query audit_bounds --filter arch=A --group series), TITLE,
# OUTFILE, FMT.
load "plots/style.gp"
NO_CLIP = 1
load "plots/blocks.gp"
PRIV = ""; NONP = ""
do for [i = 1:NB] {
  if (B_RANK[i] > 0) { PRIV = PRIV . sprintf(" %d", i) } else { NONP = NONP . sprintf(" %d", i) }
}
stats FILE using (column("privacy_bugs")) nooutput
BUGS = STATS_max
stats FILE using (column("confidence")) nooutput
CONF = STATS_min
SLO = 1e300; SHI = -1e300
do for [w in PRIV] {
  stats FILE index (int(w) - 1) using (column("sigma")) nooutput
  SLO = STATS_min < SLO ? STATS_min : SLO
  SHI = STATS_max > SHI ? STATS_max : SHI
}
if (SHI < SLO) { SLO = 0.5; SHI = 1.5 }
W = 3.5
H = 3.3
load "plots/terminal.gp"
set title sprintf("%s\n{/*0.8 lower bounds at %g%% confidence (empirical)}", TITLE, 100 * CONF) font ",9"
set xlabel "noise multiplier σ"
set ylabel "ε"
set key below horizontal maxrows 3 font ",7" spacing 0.9
set yrange [0:*]
PAD = (SHI > SLO) ? 0.15 * (SHI - SLO) : 0.25 * SHI
set xrange [SLO - PAD : SHI + PAD]
# the non-private audits: horizontal references
do for [w in NONP] {
  KIND = ""
  stats FILE index (int(w) - 1) using (KIND = strcol("kind"), column("epsilon_lb")) nooutput
  set arrow from graph 0, first STATS_mean to graph 1, first STATS_mean nohead dt 3 lw 1.2 lc rgb "#777777"
  set label sprintf("non-private, %s canaries: %.2f", KIND, STATS_mean) \
    at graph 0.02, first STATS_mean offset 0, 0.5 font ",7" tc rgb "#555555"
}
# methods side by side around each sigma
NP = words(PRIV)
dx(k) = (SHI > SLO ? 0.04 * (SHI - SLO) : 0.05 * SHI) * (k - (NP + 1) / 2.0)
plot for [k = 1:NP] FILE index (int(word(PRIV, k)) - 1) using "sigma":"epsilon" \
       with linespoints dt 2 lw 1.3 pt 6 ps 0.5 lc rgb "#000000" \
       title (k == 1 ? "accountant ε (upper bound)" : ""), \
     for [k = 1:NP] FILE index (int(word(PRIV, k)) - 1) \
       using (column("sigma") + dx(k)):"epsilon_lb":"epsilon_lb_min":"epsilon_lb_max" \
       with yerrorbars lw 1.3 pt method_pt(B_RANK[int(word(PRIV, k))]) ps 0.7 \
       lc rgb method_color(B_RANK[int(word(PRIV, k))]) title columnhead(1), \
     for [k = 1:NP] FILE index (int(word(PRIV, k)) - 1) \
       using (column("sigma") + dx(k)):(column("privacy_bugs") > 0 ? column("epsilon_lb_max") : NaN) \
       with points pt 6 ps 2.2 lw 2 lc rgb "#d00000" \
       title ((k == 1 && BUGS > 0) ? "privacy bug (lower bound > ε)" : "")
