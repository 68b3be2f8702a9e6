# The reproduction report's learning curves (clipbench report --study): for one
# architecture, the validation Dice per epoch of our as-published runs (solid,
# mean over seeds with a min-max band) and the study's published curve of the
# same arm (dashed). Inputs (gnuplot -e): DATA (figures/study_curves_ARCH.tsv:
# N_OURS blocks, then N_STUDY, each headed by its title; columns epoch, mean,
# lo, hi, method rank), ARCH, OUTFILE, FMT, PLOTS, XMAX (our longest run's
# epochs: the study's 100-epoch curves are cut there, so a shorter run of ours
# is compared over the epochs it ran).
load PLOTS . "/style.gp"
W = 7.16; H = 3.2
load PLOTS . "/terminal.gp"
set title arch_name(ARCH)
set xlabel "epoch"
set ylabel "validation Dice"
if (exists("XMAX") && XMAX > 0) set xrange [0:XMAX]
set key outside right top vertical samplen 2 font ",5" spacing 0.9
plot \
  for [i = 0:N_OURS - 1] DATA index i using 1:3:4 with filledcurves \
      fc rgb "#808080" fs transparent solid 0.15 noborder notitle, \
  for [i = 0:N_OURS - 1] DATA index i using 1:2:(method_rgb($5)) with lines lw 1.4 \
      lc rgb variable title columnheader(2), \
  for [i = N_OURS:N_OURS + N_STUDY - 1] DATA index i using 1:2:(method_rgb($5)) with lines \
      lw 1.0 dt 2 lc rgb variable title columnheader(2)
