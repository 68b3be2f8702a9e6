# Places panel p of NP side by side (screen margins), leaving the top for the
# title and the bottom for the key.
if (!exists("PANEL_LEFT")) { PANEL_LEFT = 0.09 }
if (!exists("PANEL_RIGHT")) { PANEL_RIGHT = 0.98 }
if (!exists("PANEL_TOP")) { PANEL_TOP = 0.85 }
if (!exists("PANEL_BOTTOM")) { PANEL_BOTTOM = 0.30 }
if (!exists("PANEL_GAP")) { PANEL_GAP = 0.035 }
PW = (PANEL_RIGHT - PANEL_LEFT - (NP - 1) * PANEL_GAP) / NP
set lmargin at screen PANEL_LEFT + (p - 1) * (PW + PANEL_GAP)
set rmargin at screen PANEL_LEFT + (p - 1) * (PW + PANEL_GAP) + PW
set tmargin at screen PANEL_TOP
set bmargin at screen PANEL_BOTTOM
