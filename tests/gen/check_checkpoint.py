#!/usr/bin/env python3
"""Development-time check (not run in CI): clipbench checkpoints load into the
PyTorch twins of our models and reproduce our losses.

    python3 tests/gen/check_checkpoint.py [BUILD_DIR]     # default: build

It runs BUILD_DIR/tests/test_checkpoint with CB_CHECKPOINT_EXPORT set, which
writes a tiny U-Net and Nested U-Net checkpoint (weights, AdamW state after
two steps, metadata) and a probe file (input, labels, clipbench's per-image
losses) each. For both it then
  - builds the PyTorch model from the checkpoint's clipbench.model metadata,
  - loads the weights with load_state_dict(strict=True),
  - checks that every optimizer.<slot>.<name> tensor matches a parameter's
    shape and loads into torch.optim.AdamW's state_dict,
  - recomputes the per-image losses in float64 and compares them with
    clipbench's float32 ones (relative error <= 1e-5).
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
from safetensors import safe_open
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import build, per_image_loss  # noqa: E402


def check(path, probe_path):
    with safe_open(path, "pt") as f:
        meta = f.metadata()
    assert meta["clipbench.format"] == "1", meta
    cfg = json.loads(meta["clipbench.model"])
    opt_cfg = json.loads(meta["clipbench.optimizer"])
    sd = load_file(path)
    weights = {k: v for k, v in sd.items() if not k.startswith("optimizer.")}
    state = {k: v for k, v in sd.items() if k.startswith("optimizer.")}
    model = build(cfg)
    model.load_state_dict(weights, strict=True)  # raises on any name or shape mismatch
    names = [n for n, _ in model.named_parameters()]
    assert sum(p.numel() for p in model.parameters()) == cfg["params"]
    assert len(names) == cfg["tensors"]

    # Optimizer state in torch.optim's layout.
    opt = torch.optim.AdamW(model.parameters(), lr=opt_cfg["lr"],
                            betas=(opt_cfg["beta1"], opt_cfg["beta2"]), eps=opt_cfg["eps"],
                            weight_decay=opt_cfg["weight_decay"])
    osd = opt.state_dict()
    for i, n in enumerate(names):
        osd["state"][i] = {"step": torch.tensor(float(opt_cfg["steps"])),
                           "exp_avg": state.pop("optimizer.exp_avg." + n),
                           "exp_avg_sq": state.pop("optimizer.exp_avg_sq." + n)}
    assert not state, "unexpected optimizer tensors: %s" % list(state)
    opt.load_state_dict(osd)

    probe = load_file(probe_path)
    model = model.double()
    with torch.no_grad():
        ours = probe["loss"].double()
        theirs = per_image_loss(model(probe["input"].double()), probe["labels"])
    rel = ((ours - theirs).abs() / theirs.abs()).max().item()
    print("%s: %s, %d tensors load into PyTorch; AdamW state (step %d) loads; losses %s vs "
          "ours %s, relative error %.1e"
          % (os.path.basename(path), cfg["arch"], len(names), opt_cfg["steps"],
             theirs.numpy(), ours.numpy(), rel))
    assert rel <= 1e-5, rel


def main():
    build_dir = sys.argv[1] if len(sys.argv) > 1 else "build"
    exe = os.path.join(build_dir, "tests", "test_checkpoint")
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, CB_CHECKPOINT_EXPORT=d)
        subprocess.run([exe], env=env, check=True, stdout=subprocess.DEVNULL)
        for name in ("unet", "nested_unet"):
            check(os.path.join(d, name + ".safetensors"),
                  os.path.join(d, name + ".probe.safetensors"))
    print("ok")


if __name__ == "__main__":
    main()
