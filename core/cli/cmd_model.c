/* clipbench model: the layer table, parameter tensors and count. */
#include "core/base/cli.h"
#include "core/base/error.h"
#include "core/base/json.h"
#include "core/cli/commands.h"
#include "core/models/model_opts.h"

#include <stdio.h>

int cb_cmd_model(int argc, char **argv) {
  cb_cli c;
  cb_model_opts mo;
  cb_intlist size = {.v = {224, 224}, .n = 2, .min_n = 1, .max_n = 2};
  int json = 0, tensors = 0;
  cb_cli_init(&c, "clipbench model", "[options]",
              "Builds a model and prints its layer table, parameter tensors and parameter count.");
  cb_model_opts_add(&c, &mo, -1);
  cb_cli_add(&c, "size", CB_OPT_INTS, &size, "H [W]", "image size (224 224)");
  cb_cli_add(&c, "tensors", CB_OPT_FLAG, &tensors, NULL, "also list every parameter tensor");
  cb_cli_add(&c, "json", CB_OPT_FLAG, &json, NULL, "one JSON object on stdout");
  int rc = cb_cli_parse(&c, argc, argv);
  if (rc) return rc > 0 ? 0 : -1;
  if (size.n == 1) size.v[1] = size.v[0];
  cb_model_cfg cfg;
  if (cb_model_opts_resolve(&mo, &cfg)) return -1;
  cb_model *m = cb_model_create(cb_backend_cpu(), &cfg, size.v[0], size.v[1]);
  if (!m) return -1;
  if (json) {
    cb_json j;
    cb_json_init_file(&j, stdout);
    cb_json_obj_begin(&j);
    cb_json_kv_str(&j, "arch", CB_ARCH_NAMES[cfg.arch]);
    cb_json_kv_int(&j, "width", cfg.width);
    cb_json_kv_int(&j, "depth", cfg.depth);
    cb_json_kv_int(&j, "in_channels", cfg.in_channels);
    cb_json_kv_int(&j, "classes", cfg.classes);
    cb_json_kv_int(&j, "groups", cfg.groups);
    cb_json_kv_bool(&j, "bias", cfg.bias);
    cb_json_kv_str(&j, "up", CB_UP_NAMES[cfg.up]);
    cb_json_kv_int(&j, "params", m->n_params);
    cb_json_kv_int(&j, "tensors", m->n_tensors);
    cb_json_kv_int(&j, "nodes", m->n_nodes);
    cb_json_kv_num(&j, "gflops_forward_per_image", cb_model_flops_forward(m) / 1e9);
    if (tensors) {
      cb_json_key(&j, "tensor_list");
      cb_json_arr_begin(&j);
      for (int t = 0; t < m->n_tensors; t++) {
        cb_json_obj_begin(&j);
        cb_json_kv_str(&j, "name", m->tensors[t].name);
        cb_json_key(&j, "shape");
        cb_json_arr_begin(&j);
        for (int d = 0; d < m->tensors[t].ndim; d++)
          cb_json_int(&j, m->tensors[t].shape[d]);
        cb_json_arr_end(&j);
        cb_json_obj_end(&j);
      }
      cb_json_arr_end(&j);
    }
    cb_json_obj_end(&j);
    printf("\n");
  } else {
    printf("%s: width %d, depth %d, %d input channel(s), %d classes, GroupNorm(%d), %s up, "
           "3x3 conv bias %s; input %dx%d\n\n",
           CB_ARCH_NAMES[cfg.arch], cfg.width, cfg.depth, cfg.in_channels, cfg.classes, cfg.groups,
           CB_UP_NAMES[cfg.up], cfg.bias ? "on" : "off", size.v[0], size.v[1]);
    cb_model_print(m, stdout);
    if (tensors) {
      printf("\n%-4s %-44s %s\n", "#", "tensor", "shape");
      for (int t = 0; t < m->n_tensors; t++) {
        const cb_tensor *ts = &m->tensors[t];
        printf("%-4d %-44s", t, ts->name);
        for (int d = 0; d < ts->ndim; d++)
          printf("%s%d", d ? "x" : "", ts->shape[d]);
        printf("\n");
      }
    }
    printf("\nparameters: %lld in %d tensors; forward %.2f GFLOP per image\n",
           (long long)m->n_params, m->n_tensors, cb_model_flops_forward(m) / 1e9);
  }
  cb_model_free(m);
  return 0;
}
