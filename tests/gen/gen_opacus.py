#!/usr/bin/env python3
"""Writes the Opacus golden fixtures for the DP engine (development only; CI
never runs this, it only reads the committed files).

    python3 tests/gen/gen_opacus.py      # needs torch, opacus, safetensors, numpy

opacus_unet.safetensors (ConvTranspose2d up: Opacus has no rule for it and
falls back to functorch), opacus_nested_unet.safetensors (bilinear up, conv
bias), each for a batch of N images:
    <parameter name>        float32 weights
    input, labels           float32 [N, 1, H, W], uint8 [N, H, W]
    norm_total              float64 [N]      per-sample gradient norms
    norm_tensor             float64 [N, K]   per tensor, K in state_dict order
    flat.<name>             float32 Opacus flat-clipped sum (noise 0)
    per_layer.<name>        float32 Opacus per-layer (per-tensor) clipped sum
    metadata: model (clipbench JSON config), tensors (names in order),
              clip_flat, clip_layer, noise_std_* (Opacus' noise std for sigma 1)

Per-sample gradients are those of each image's own loss (Opacus
loss_reduction="sum"); the sums are DPOptimizer.pre_step()'s p.grad with
noise_multiplier 0 and loss_reduction "sum" (no division by the batch size).
"""
import json
import math
import os
import sys

import numpy as np
import torch
from opacus import GradSampleModule
from opacus.optimizers import DPOptimizer, DPPerLayerOptimizer
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import build, per_image_loss  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
MODELS = {
    "opacus_unet": dict(arch="unet", width=4, depth=2, in_channels=1, classes=3, groups=2,
                        up="transpose", bias=False),
    "opacus_nested_unet": dict(arch="nested_unet", width=4, depth=2, in_channels=1, classes=3,
                               groups=2, up="bilinear", bias=True),
}
N, SIZE = 4, 16


def f32(t):
    return np.array(t.detach().to(torch.float32).cpu().numpy(), copy=True, order="C")


def plain(name):
    """The model's own parameter name (GradSampleModule prefixes "_module.")."""
    return name[len("_module."):] if name.startswith("_module.") else name


def per_sample(model, x, labels):
    """Opacus hooks-mode per-sample gradients of L_i (sum reduction)."""
    gsm = GradSampleModule(model, loss_reduction="sum")
    gsm.zero_grad()
    per_image_loss(gsm(x), labels).sum().backward()
    return gsm, {plain(n): p.grad_sample.detach().clone() for n, p in gsm.named_parameters()}


def clipped_sum(gsm, optimizer_cls, max_grad_norm):
    params = [p for p in gsm.parameters()]
    opt = optimizer_cls(torch.optim.SGD(params, lr=0.0), noise_multiplier=0.0,
                        max_grad_norm=max_grad_norm, expected_batch_size=N, loss_reduction="sum")
    opt.pre_step()
    return {plain(n): p.grad.detach().clone() for n, p in gsm.named_parameters()}, opt


def make(name, cfg, seed):
    torch.manual_seed(seed)
    model = build(cfg).double()
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.GroupNorm):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.5, 0.5)
    weights = {k: f32(v) for k, v in model.state_dict().items()}
    # The models compute in float64 from the float32 weights and inputs.
    def fresh():
        m = build(cfg).double()
        m.load_state_dict({k: torch.from_numpy(v).double() for k, v in weights.items()})
        return m

    model = fresh()
    x = torch.rand(N, 1, SIZE, SIZE)
    rows = torch.arange(SIZE).view(1, SIZE, 1).expand(N, SIZE, SIZE)
    labels = ((rows * cfg["classes"]) // SIZE + (torch.rand(N, SIZE, SIZE) < 0.2).long())
    labels = (labels % cfg["classes"]).to(torch.uint8)
    gsm, gs = per_sample(model, x.double(), labels)
    names = [plain(n) for n, _ in gsm.named_parameters()]
    tensor_norms = torch.stack([gs[n].flatten(1).norm(dim=1) for n in names], dim=1)  # N, K
    total = tensor_norms.norm(dim=1)
    # Bounds that clip some samples (tensors) and leave others alone.
    c_flat = float(total.median())
    c_layer = float(tensor_norms.flatten().median())
    flat, opt_flat = clipped_sum(gsm, DPOptimizer, c_flat)
    # A fresh copy: Opacus marks per-sample gradients as consumed.
    gsm2, _ = per_sample(fresh(), x.double(), labels)
    layer, opt_layer = clipped_sum(gsm2, DPPerLayerOptimizer, [c_layer] * len(names))
    clipped_flat = int((total > c_flat).sum())
    clipped_layer = int((tensor_norms > c_layer).sum())
    assert 0 < clipped_flat < N and 0 < clipped_layer < tensor_norms.numel(), "bounds clip nothing"
    out = dict(weights)
    out["input"] = f32(x)
    out["labels"] = labels.numpy()
    out["norm_total"] = total.detach().numpy().astype(np.float64)
    out["norm_tensor"] = tensor_norms.detach().numpy().astype(np.float64)
    for n in names:
        out["flat." + n] = f32(flat[n])
        out["per_layer." + n] = f32(layer[n])
    meta = {
        "model": json.dumps(cfg), "tensors": json.dumps(names), "clip_flat": repr(c_flat),
        "clip_layer": repr(c_layer),
        # Opacus' noise std for sigma = 1: max_grad_norm (flat) and ||[C_k]||_2 (per layer).
        "noise_std_flat": repr(float(opt_flat.max_grad_norm)),
        "noise_std_per_layer": repr(float(opt_layer.max_grad_norm)),
        "torch": torch.__version__, "opacus": __import__("opacus").__version__,
        "generator": "tests/gen/gen_opacus.py",
    }

    # Opacus computes the norm of the thresholds in float32.
    assert math.isclose(float(opt_layer.max_grad_norm), c_layer * math.sqrt(len(names)), rel_tol=1e-6)
    path = os.path.join(OUT, name + ".safetensors")
    save_file(out, path, metadata=meta)
    print("%s: %d tensors, C flat %.4g (%d of %d clipped), C per tensor %.4g (%d of %d), "
          "%d bytes" % (path, len(names), c_flat, clipped_flat, N, c_layer, clipped_layer,
                        tensor_norms.numel(), os.path.getsize(path)))


if __name__ == "__main__":
    for i, (name, cfg) in enumerate(MODELS.items()):
        make(name, cfg, 11 + i)
