# A key along the bottom of a multiplot, one entry per method present in the
# blocks (B_RANK from blocks.gp): an empty plot whose only content is the key.
RANKS = ""
do for [r = (exists("KEY_NO_NONPRIVATE") ? 1 : 0):6] { if (sum [i = 1:NB] (B_RANK[i] == r ? 1 : 0) > 0) { RANKS = RANKS . sprintf(" %d", r) } }
set lmargin at screen 0.02
set rmargin at screen 0.98
set bmargin at screen 0.0
set tmargin at screen 0.12
unset border; unset tics; unset arrow; unset label; unset logscale; unset xlabel; unset ylabel; unset title; unset grid
set xrange [0:1]; set yrange [0:1]
set key center center horizontal maxrows 1 samplen 2.5
plot for [r in RANKS] NaN with linespoints lw 1.4 pt method_pt(int(r)) ps 0.6 lc rgb method_color(int(r)) \
     title method_name(int(r))
