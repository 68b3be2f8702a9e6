# The reproduction report's figure (clipbench report --study): validation Dice
# against the noise multiplier for one architecture. The study's published
# runs are points; ours as published (solid) and ours corrected (dashed) are
# means over seeds with their 95% interval. Non-private sits at sigma 0.
# Inputs (gnuplot -e): DATA (figures/study_dice_sigma.tsv), STUDY (the
# published TSV), ARCH, OUTFILE, FMT, PLOTS (this folder).
load PLOTS . "/style.gp"
W = 7.16; H = 3.2
load PLOTS . "/terminal.gp"
set datafile commentschars "#"
# method -> rank as in style.gp
rank(m) = m eq "nonprivate" ? 0 : m eq "flat" ? 1 : m eq "per_layer" ? 2 : m eq "automatic" ? 3 : m eq "random_sparsification" ? 4 : 6
METHODS = "nonprivate automatic random_sparsification flat per_layer"
STUDY_METHODS = "nonprivate automatic random_sparsification"
set title arch_name(ARCH)
set xlabel "noise multiplier {/Symbol s} (0 = non-private)"
set ylabel "validation Dice"
set xrange [-0.05:1.1]
set xtics ("non-private" 0, "0.3" 0.3, "0.5" 0.5, "0.7" 0.7, "1.0" 1.0)
set key outside right top vertical samplen 2 font ",5" spacing 0.9
sel(p, m) = (strcol(1) eq p && strcol(2) eq ARCH && strcol(3) eq m) ? $4 : NaN
pub(m) = (strcol(2) eq ARCH && strcol(1) eq m) ? (strcol(3) eq "" ? 0 : $3) : NaN
plot \
  for [m in STUDY_METHODS] STUDY skip 1 using (pub(m)):11 with points pt method_pt(rank(m)) ps 0.9 \
      lc rgb method_color(rank(m)) title "study: " . method_name(rank(m)), \
  for [m in METHODS] DATA skip 1 using (sel("as published", m)):5:6 with yerrorlines lw 1.2 \
      pt method_pt(rank(m)) ps 0.4 lc rgb method_color(rank(m)) title "ours as published: " . method_name(rank(m)), \
  for [m in METHODS] DATA skip 1 using (sel("corrected", m)):5:6 with yerrorlines lw 1.2 dt 2 \
      pt method_pt(rank(m)) ps 0.4 lc rgb method_color(rank(m)) title "ours corrected: " . method_name(rank(m))
