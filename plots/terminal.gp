# Opens OUTFILE in format FMT (png, pdf, svg) at W x H inches.
if (!exists("FMT")) { FMT = "png" }
if (FMT eq "pdf") {
  set terminal pdfcairo enhanced color font FONT size W, H
} else {
  if (FMT eq "svg") {
    set terminal svg enhanced font FONT size W * 96, H * 96 background rgb "white"
  } else {
    set terminal pngcairo enhanced color font FONT size W * 200, H * 200 fontscale 2.0
  }
}
set output OUTFILE
