/* placeholder until the stage lands */
typedef int cb_experiments_placeholder;
