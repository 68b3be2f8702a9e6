# The look of every figure, in one place: restyle here.
#
# Colours: the Okabe-Ito palette (colour-blind safe), one colour and one point
# type per method, the same in every figure. Line types: one per noise multiplier (solid,
# dashed, dotted, dash-dot). Sizes: SIZE = "single" (3.5 in wide, one column of
# a two-column paper) or "double" (7.16 in, full width).

set datafile separator "\t"

set encoding utf8

# method_rank (see results/queries.c): 0 non-private, 1 flat, 2 per-layer,
# 3 automatic, 4 random sparsification, 5 adaptive
array METHOD_COLOR[7] = ["#000000", "#E69F00", "#0072B2", "#009E73", "#D55E00", "#CC79A7", "#56B4E9"]
method_color(rank) = METHOD_COLOR[int(rank) + 1]
# the same as numbers, for "lc rgb variable"
array METHOD_RGB[7] = [0x000000, 0xE69F00, 0x0072B2, 0x009E73, 0xD55E00, 0xCC79A7, 0x56B4E9]
method_rgb(rank) = METHOD_RGB[int(rank) + 1]
array METHOD_NAME[7] = ["non-private", "flat (Abadi)", "per-layer", "automatic (AUTO-S)", "random sparsification", "adaptive", "other"]
method_name(rank) = METHOD_NAME[int(rank) + 1]
# Point types, one per method as well: methods stay apart in greyscale print
# and for readers who cannot tell orange from vermillion.
array METHOD_PT[7] = [7, 5, 9, 11, 13, 15, 1]
method_pt(rank) = METHOD_PT[int(rank) + 1]
arch_name(a) = a eq "unet" ? "U-Net" : (a eq "nested_unet" ? "Nested U-Net" : a)
array SIGMA_DT[6] = [1, 2, 3, 4, 5, 6]

FONT = "Helvetica,8"
set border lw 0.8
set tics nomirror out scale 0.6
set grid back lc rgb "#dddddd" lw 0.6
set key samplen 2.2 spacing 1.0 noenhanced
set style fill transparent solid 0.18 noborder

# set_output(FMT, OUTFILE, width_in, height_in) via a macro-free recipe: the
# figure scripts set W and H (inches) and call `load "plots/terminal.gp"`.
