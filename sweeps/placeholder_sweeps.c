/* placeholder until the stage lands */
typedef int cb_sweeps_placeholder;
