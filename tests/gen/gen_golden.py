#!/usr/bin/env python3
"""Writes the PyTorch golden fixtures under tests/fixtures/ (development only;
CI never runs this, it only reads the committed files).

    python3 tests/gen/gen_golden.py        # needs torch, safetensors, numpy

golden_unet.safetensors, golden_nested_unet.safetensors:
    <parameter name>          float32 weights (the model's state_dict)
    input                     float32 [N, 1, H, W]
    labels                    uint8   [N, H, W]
    loss                      float64 [N]   per-image losses
    grad.<name>               float32 gradient of the batch-mean loss
    grad_sample.<name>        float32 [2, ...] gradients of L_0 and L_1 alone
    metadata: "model" (clipbench's JSON model configuration), "loss"
golden_optim.safetensors: torch.optim on three small tensors for five steps
with a varying learning rate, per configuration:
    param.<t>, grad.<k>.<t>   initial values and the gradient of step k
    <cfg>.step<k>.<t>         values after step k (k = 1..5)
    <cfg>.state.<slot>.<t>    optimizer state after step 5
    metadata: "configs" (JSON list of {name, kind, lr, momentum, ...}), "lrs"

The models run in float64 from float32 weights, so the fixtures hold the exact
values (to float32 rounding) that clipbench's float32 forward approximates.
"""
import json
import os
import sys

import numpy as np
import torch
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import build, per_image_loss  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")

MODELS = {
    "golden_unet": dict(arch="unet", width=4, depth=2, in_channels=1, classes=4, groups=2,
                        up="transpose", bias=False),
    "golden_nested_unet": dict(arch="nested_unet", width=4, depth=3, in_channels=1, classes=4,
                               groups=2, up="bilinear", bias=True),
}
N_IMAGES, SIZE, N_SAMPLE = 3, 16, 2


def f32(t):
    # A copy: .numpy() shares memory with tensors that later steps update in place.
    return np.array(t.detach().to(torch.float32).cpu().numpy(), copy=True, order="C")


def golden_model(name, cfg, seed):
    torch.manual_seed(seed)
    model = build(cfg)  # PyTorch's default initialisation
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.GroupNorm):  # affine away from (1, 0)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.5, 0.5)
    weights = {k: f32(v) for k, v in model.state_dict().items()}
    x = torch.rand(N_IMAGES, cfg["in_channels"], SIZE, SIZE)
    # Labels with structure (bands) plus noise, every class present.
    rows = torch.arange(SIZE).view(1, SIZE, 1).expand(N_IMAGES, SIZE, SIZE)
    labels = ((rows * cfg["classes"]) // SIZE + (torch.rand(N_IMAGES, SIZE, SIZE) < 0.2).long())
    labels = (labels % cfg["classes"]).to(torch.uint8)

    model = model.double()
    xd = x.double()
    losses = per_image_loss(model(xd), labels)
    model.zero_grad()
    losses.mean().backward()
    out = dict(weights)
    out["input"] = f32(x)
    out["labels"] = labels.numpy()
    out["loss"] = losses.detach().numpy().astype(np.float64)
    for k, p in model.named_parameters():
        out["grad." + k] = f32(p.grad)
    per = {k: [] for k, _ in model.named_parameters()}
    for i in range(N_SAMPLE):
        model.zero_grad()
        per_image_loss(model(xd[i:i + 1]), labels[i:i + 1]).sum().backward()
        for k, p in model.named_parameters():
            per[k].append(f32(p.grad))
    for k, v in per.items():
        out["grad_sample." + k] = np.stack(v)
    meta = {"model": json.dumps(cfg), "loss": "w_ce 1, w_dice 1, smooth 1",
            "torch": torch.__version__, "generator": "tests/gen/gen_golden.py"}
    path = os.path.join(OUT, name + ".safetensors")
    save_file(out, path, metadata=meta)
    n_params = sum(p.numel() for p in model.parameters())
    print("%s: %d parameters in %d tensors, losses %s, %d bytes"
          % (path, n_params, len(per), losses.detach().numpy(), os.path.getsize(path)))


OPTIM_CONFIGS = [
    dict(name="sgd", kind="sgd", lr=0.1, momentum=0.0, nesterov=False, weight_decay=0.0),
    dict(name="sgd_momentum", kind="sgd", lr=0.1, momentum=0.9, nesterov=False, weight_decay=0.0),
    dict(name="sgd_nesterov_wd", kind="sgd", lr=0.05, momentum=0.8, nesterov=True,
         weight_decay=0.01),
    dict(name="sgd_wd", kind="sgd", lr=0.1, momentum=0.0, nesterov=False, weight_decay=0.1),
    dict(name="adam", kind="adam", lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0),
    dict(name="adam_wd", kind="adam", lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05),
    dict(name="adamw", kind="adamw", lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1),
]
OPTIM_SHAPES = {"a": (3, 4), "b": (5,), "c": (2, 1, 3, 3)}
OPTIM_STEPS = 5
LR_SCALE = [1.0, 0.5, 1.0, 0.25, 0.75]  # a schedule: lr of step k = lr * LR_SCALE[k]


def golden_optim():
    torch.manual_seed(7)
    init = {t: torch.randn(*s) for t, s in OPTIM_SHAPES.items()}
    grads = [{t: torch.randn(*s) for t, s in OPTIM_SHAPES.items()} for _ in range(OPTIM_STEPS)]
    out = {"param." + t: f32(v) for t, v in init.items()}
    for k, g in enumerate(grads):
        for t, v in g.items():
            out["grad.%d.%s" % (k, t)] = f32(v)
    for c in OPTIM_CONFIGS:
        params = [init[t].clone().requires_grad_(True) for t in OPTIM_SHAPES]
        if c["kind"] == "sgd":
            opt = torch.optim.SGD(params, lr=c["lr"], momentum=c["momentum"],
                                  nesterov=c["nesterov"], weight_decay=c["weight_decay"],
                                  foreach=False)
        else:
            cls = torch.optim.Adam if c["kind"] == "adam" else torch.optim.AdamW
            opt = cls(params, lr=c["lr"], betas=c["betas"], eps=c["eps"],
                      weight_decay=c["weight_decay"], foreach=False)
        for k in range(OPTIM_STEPS):
            for p, t in zip(params, OPTIM_SHAPES):
                p.grad = grads[k][t].clone()
            opt.param_groups[0]["lr"] = c["lr"] * LR_SCALE[k]
            opt.step()
            for p, t in zip(params, OPTIM_SHAPES):
                out["%s.step%d.%s" % (c["name"], k + 1, t)] = f32(p)
        for p, t in zip(params, OPTIM_SHAPES):
            for slot, v in opt.state[p].items():
                if slot != "step":
                    out["%s.state.%s.%s" % (c["name"], slot, t)] = f32(v)
    meta = {"configs": json.dumps(OPTIM_CONFIGS), "lr_scale": json.dumps(LR_SCALE),
            "torch": torch.__version__, "generator": "tests/gen/gen_golden.py"}
    path = os.path.join(OUT, "golden_optim.safetensors")
    save_file(out, path, metadata=meta)
    print("%s: %d bytes" % (path, os.path.getsize(path)))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    golden_model("golden_unet", MODELS["golden_unet"], 1)
    golden_model("golden_nested_unet", MODELS["golden_nested_unet"], 2)
    golden_optim()


if __name__ == "__main__":
    main()
