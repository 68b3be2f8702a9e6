/* placeholder until the stage lands */
typedef int cb_results_placeholder;
