#!/usr/bin/env python3
"""Times clipbench against PyTorch and Opacus side by side in one run
(development only: CI never runs this; torch and opacus are references).

    python3 tests/perf/compare_torch.py --clipbench build/clipbench \\
        --arch unet,nested_unet --width 16 --size 128 --batch-size 10 --threads 2

For every model it runs rounds, interleaved: a PyTorch non-private step, an
Opacus flat-clipping step (C = 1, sigma = 1), then `clipbench bench --json`
for the same shape, modes and threads; every one of them in its own process,
so each peak RSS (ru_maxrss of that child) is its own. The PyTorch model is
tests/gen/models.py's twin of ours (same names, widths, depth, GroupNorm
groups, biases, up-sampling; the parameter counts are checked against
clipbench's) and the loss is our per-image cross-entropy + Dice. A tool's
ms/step is the median step of its fastest round, as in `clipbench bench`, so
a slow spell of a shared machine hits every tool alike.

Opacus has no per-sample rule for ConvTranspose2d: in its default "hooks"
mode it computes those layers' per-sample gradients with functorch's vmap
(`--opacus-mode functorch` uses vmap for every layer); the table says which
layers went that way.

Prints a Markdown table with its caption and this command; --json prints one
JSON object instead. Needs torch (Debian's python3-torch 1.13 or PyPI's) and
opacus (1.4 was used with Debian's torch 1.13: `pip install --no-deps
opacus==1.4.0 opt_einsum`, since pip reads Debian's 1.13.0a0 as a
pre-release that does not satisfy opacus' torch>=1.13).
"""
import argparse
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(HERE, "..", "gen")

# clipbench's model defaults (clipbench bench --help).
ARCH_DEFAULTS = {
    "unet": dict(groups=32, bias=False, up="transpose"),
    "nested_unet": dict(groups=8, bias=True, up="bilinear"),
}
CB_MODES = ["none", "flat", "per_layer", "automatic"]


# ---------------------------------------------------------------- child side


def child(spec):
    """One PyTorch or Opacus run in this process; prints one JSON line."""
    import torch

    sys.path.insert(0, GEN)
    from models import build, per_image_loss

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(1)
    cfg = spec["model"]
    model = build(cfg)
    params = sum(p.numel() for p in model.parameters())
    B, H, W, K = spec["batch"], spec["size"], spec["size"], cfg["classes"]
    x = torch.randn(B, cfg["in_channels"], H, W)
    # The label pattern clipbench bench uses.
    idx = torch.arange(B * H * W)
    y = ((idx // 97 + idx % 13) % K).view(B, H, W)
    out = dict(tool=spec["tool"], params=params, threads=torch.get_num_threads())
    if spec["tool"] == "pytorch":
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        step_model = model
    else:
        from opacus import GradSampleModule
        from opacus.optimizers import DPOptimizer

        mode = spec["opacus_mode"]
        gsm = GradSampleModule(model, batch_first=True, loss_reduction="mean",
                               force_functorch=(mode == "functorch"))
        # Which layers Opacus handles with its own rule and which with vmap.
        vmapped = sorted({type(m).__name__ for m in model.modules()
                          if hasattr(m, "ft_compute_sample_grad")})
        out.update(opacus_mode=mode, vmap_layers=vmapped)
        opt = DPOptimizer(torch.optim.SGD(gsm.parameters(), lr=0.01), noise_multiplier=1.0,
                          max_grad_norm=1.0, expected_batch_size=B, loss_reduction="mean")
        step_model = gsm
    times = []
    for s in range(spec["warmup"] + spec["steps"]):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = per_image_loss(step_model(x), y).mean()
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if s >= spec["warmup"]:
            times.append(dt)
    out["ms_per_step"] = 1e3 * statistics.median(times)
    out["loss"] = float(loss)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(out), flush=True)


# --------------------------------------------------------------- parent side


def model_cfg(a, arch):
    d = ARCH_DEFAULTS[arch]
    return dict(arch=arch, in_channels=1, classes=9, width=a.width, depth=4,
                groups=a.groups if a.groups else d["groups"],
                bias=d["bias"] if a.bias is None else a.bias,
                up=a.up if a.up else d["up"])


def run_child(a, tool, cfg):
    spec = dict(tool=tool, model=cfg, batch=a.batch_size, size=a.size, threads=a.threads,
                warmup=a.warmup, steps=a.steps, opacus_mode=a.opacus_mode)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    if a.torch_wait_policy == "passive":
        env["OMP_WAIT_POLICY"] = "passive"
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", json.dumps(spec)],
                       env=env, capture_output=True, text=True, timeout=a.timeout)
    if p.returncode != 0:
        return dict(tool=tool, error=(p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1])
    return json.loads(p.stdout.strip().splitlines()[-1])


def run_clipbench(a, cfg):
    cmd = [a.clipbench, "bench", "--arch", cfg["arch"], "--width", str(a.width),
           "--groups", str(cfg["groups"]), "--bias", "yes" if cfg["bias"] else "no",
           "--up", cfg["up"], "--size", str(a.size), "--batch-size", str(a.batch_size),
           "--threads", str(a.threads), "--rounds", "1", "--steps", str(a.steps),
           "--warmup", str(a.warmup), "--json"]
    for m in a.modes:
        cmd += ["--mode", m]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
    rows, summary = {}, {}
    for line in p.stdout.splitlines():
        if not line.startswith("{"):
            continue
        o = json.loads(line)
        if o.get("summary"):
            summary = o
        else:
            rows[o["mode"]] = o
    if p.returncode != 0 and not rows:
        err = (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]
        return {m: dict(error=err) for m in a.modes}, summary, cmd
    return rows, summary, cmd


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def versions():
    code = ("import torch, re, json; import opacus\n"
            "m = re.search(r'MKL-DNN (v[0-9.]+)', torch.__config__.show())\n"
            "print(json.dumps(dict(torch=torch.__version__, opacus=opacus.__version__, "
            "onednn=m.group(1) if m else 'not reported')))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("compare_torch.py: needs torch and opacus: " + p.stderr.strip().splitlines()[-1])
    return json.loads(p.stdout)


def best(runs):
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return dict(error=runs[-1]["error"] if runs else "not run")
    b = dict(min(ok, key=lambda r: r["ms_per_step"]))
    b["peak_rss_mib"] = max(r["peak_rss_mib"] for r in ok)  # the largest peak of any round
    b["rounds_ok"] = len(ok)
    return b


def measure(a, arch):
    cfg = model_cfg(a, arch)
    torch_runs, opacus_runs, cb_runs, summaries, cb_cmd = [], [], {m: [] for m in a.modes}, [], None
    for r in range(a.rounds):
        print("[%s] round %d/%d: pytorch" % (arch, r + 1, a.rounds), file=sys.stderr, flush=True)
        torch_runs.append(run_child(a, "pytorch", cfg))
        print("[%s] round %d/%d: clipbench" % (arch, r + 1, a.rounds), file=sys.stderr, flush=True)
        rows, summary, cb_cmd = run_clipbench(a, cfg)
        summaries.append(summary)
        for m in a.modes:
            cb_runs[m].append(rows.get(m, dict(error="no row for mode " + m)))
        print("[%s] round %d/%d: opacus" % (arch, r + 1, a.rounds), file=sys.stderr, flush=True)
        opacus_runs.append(run_child(a, "opacus", cfg))
    res = dict(model=cfg, pytorch=best(torch_runs), opacus=best(opacus_runs),
               clipbench={m: best(v) for m, v in cb_runs.items()},
               clipbench_command=" ".join(shlex.quote(c) for c in cb_cmd),
               rounds=dict(pytorch=torch_runs, opacus=opacus_runs, clipbench=cb_runs))
    sg = [s["sgemm_gflops"] for s in summaries if s.get("sgemm_gflops")]
    res["sgemm_gflops"] = max(sg) if sg else None
    res["clipbench_summary"] = next((s for s in summaries if s), {})
    none = res["clipbench"].get("none", {})
    # The non-private step's FLOPs (clipbench's count: forward, dW, dX of every conv).
    if "error" not in none and none.get("gflops"):
        res["step_gflop"] = none["gflops"] * none["ms_per_step"] / 1e3
    else:
        res["step_gflop"] = None
    res["ratios"] = ratios(res)
    return res


def speed(r):
    return 1e3 / r["ms_per_step"] if r and "error" not in r else None


def div(x, y):
    return x / y if x is not None and y else None


def ratios(res):
    cb, pt, op = res["clipbench"], res["pytorch"], res["opacus"]
    out = {
        "ours_none_vs_pytorch": div(speed(cb.get("none")), speed(pt)),
        "ours_flat_vs_opacus_flat": div(speed(cb.get("flat")), speed(op)),
        "opacus_flat_vs_pytorch": div(speed(op), speed(pt)),
    }
    for m in cb:
        if m != "none":
            out["ours_%s_vs_ours_none" % m] = div(speed(cb[m]), speed(cb.get("none")))
    g, s = res["step_gflop"], res["sgemm_gflops"]
    if g and s:
        for name, r in (("ours_none", cb.get("none")), ("pytorch", pt)):
            sp = speed(r)
            out[name + "_gflops"] = g * sp if sp else None
            out[name + "_fraction_of_sgemm"] = g * sp / s if sp else None
    return out


def fmt(v, f="%.0f"):
    return "-" if v is None else f % v


def label(cfg, params):
    up = {"transpose": "transposed conv up", "bilinear": "bilinear up"}[cfg["up"]]
    name = {"unet": "U-Net", "nested_unet": "Nested U-Net"}[cfg["arch"]]
    return "%s w%d, GN %d, %s, %s (%.2f M params)" % (
        name, cfg["width"], cfg["groups"], "bias" if cfg["bias"] else "no bias", up, params / 1e6)


def markdown(a, results, meta):
    lines = []
    lines.append("Measured %s on %s (%s; %d threads for every tool; load average %s before, "
                 "%s after; OMP_WAIT_POLICY %s for clipbench, %s for PyTorch and Opacus), "
                 "clipbench %s with %s, PyTorch %s "
                 "(oneDNN %s), Opacus %s; %dx%d, batch %d; best of %d interleaved rounds of "
                 "%d timed steps after %d warm-up, median step; peak RSS is each process's "
                 "largest over the rounds; %.0f s in all:" % (
                     meta["date"], meta["cpu"], meta["cores"], a.threads, meta["load_before"],
                     meta["load_after"], meta["omp_wait_policy_clipbench"],
                     meta["omp_wait_policy_torch"], meta["clipbench"], meta["openblas"],
                     meta["torch"], meta["onednn"], meta["opacus"], a.size, a.size,
                     a.batch_size, a.rounds, a.steps, a.warmup, meta.get("seconds", 0)))
    lines.append("")
    lines.append("    " + meta["command"])
    lines.append("")
    lines.append("| model | tool / mode | ms/step | samples/s | peak RSS MiB | ratio | "
                 "GFLOP/s (of sgemm) |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- |")
    for res in results:
        cfg, q = res["model"], res["ratios"]
        params = res["pytorch"].get("params") or res["opacus"].get("params") or 0
        op = res["opacus"]
        op_name = "Opacus flat (%s%s)" % (
            op.get("opacus_mode", a.opacus_mode),
            "; vmap: " + ", ".join(op["vmap_layers"]) if op.get("vmap_layers") else "")
        def of_sgemm(name):
            if not q.get(name + "_gflops"):
                return "-"
            return "%.0f (%.0f %% of %.0f)" % (q[name + "_gflops"],
                                              100 * q[name + "_fraction_of_sgemm"],
                                              res["sgemm_gflops"])

        rows = [("PyTorch non-private", res["pytorch"], "1.00", of_sgemm("pytorch")),
                (op_name, op, fmt(q["opacus_flat_vs_pytorch"], "%.2f vs PyTorch"), "")]
        for m in a.modes:
            r = res["clipbench"][m]
            if m == "none":
                rt = fmt(q["ours_none_vs_pytorch"], "%.2f vs PyTorch")
                gf = of_sgemm("ours_none")
            else:
                rt = fmt(q.get("ours_%s_vs_ours_none" % m), "%.2f vs ours none")
                if m == "flat":
                    rt += fmt(q["ours_flat_vs_opacus_flat"], ", %.2f vs Opacus")
                gf = ""
            rows.append(("clipbench " + m, r, rt, gf))
        for i, (name, r, rt, gf) in enumerate(rows):
            first = label(cfg, params) if i == 0 else ""
            if "error" in r:
                lines.append("| %s | %s | failed: %s | | | | |" % (first, name, r["error"][:120]))
                continue
            lines.append("| %s | %s | %.0f | %.1f | %.0f | %s | %s |" % (
                first, name, r["ms_per_step"], a.batch_size * 1e3 / r["ms_per_step"],
                r["peak_rss_mib"], rt, gf))
    lines.append("")
    lines.append("GFLOP/s: clipbench's FLOP count of the non-private step (forward, weight and "
                 "input gradients of every convolution) divided by each tool's step time (the "
                 "same model, so the same count serves PyTorch), against the fastest OpenBLAS "
                 "sgemm (2048^3) that clipbench bench measured in that model's rounds.")
    mismatch = [res for res in results
                if res["clipbench"].get("none", {}).get("params") not in (None, res["pytorch"].get("params"))]
    for res in mismatch:
        lines.append("WARNING: %s: clipbench has %s parameters, the PyTorch twin %s." % (
            res["model"]["arch"], res["clipbench"]["none"]["params"], res["pytorch"].get("params")))
    return "\n".join(lines)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(json.loads(sys.argv[2]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clipbench", default=os.path.join(HERE, "..", "..", "build", "clipbench"),
                    help="the clipbench binary (build/clipbench)")
    ap.add_argument("--arch", default="unet,nested_unet",
                    help="comma-separated: unet, nested_unet (both)")
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--groups", type=int, default=0, help="GroupNorm groups (0: clipbench's default)")
    ap.add_argument("--bias", choices=["yes", "no"], default=None,
                    help="3x3 conv bias (clipbench's default per arch)")
    ap.add_argument("--up", choices=["transpose", "bilinear"], default=None,
                    help="up-sampling (clipbench's default per arch)")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=3, help="timed steps per run")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps per run")
    ap.add_argument("--mode", dest="modes", default=",".join(CB_MODES),
                    help="clipbench modes, comma-separated (%s)" % ",".join(CB_MODES))
    ap.add_argument("--opacus-mode", choices=["hooks", "functorch"], default="hooks",
                    help="Opacus grad_sample_mode (hooks: its own rules, vmap where it has none)")
    ap.add_argument("--torch-wait-policy", choices=["passive", "inherit"], default="passive",
                    help="OMP_WAIT_POLICY for PyTorch and Opacus: passive, as clipbench sets "
                    "for itself (default), or inherit this environment's (libgomp spins when unset)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per child process")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--table-from", metavar="FILE",
                    help="print the Markdown table of an earlier --json output and exit")
    a = ap.parse_args()
    if a.table_from:
        with open(a.table_from) as f:
            saved = json.load(f)
        print(markdown(argparse.Namespace(**saved["args"]), saved["results"], saved["meta"]))
        return
    if a.bias is not None:
        a.bias = a.bias == "yes"
    a.modes = [m for m in a.modes.split(",") if m]
    if "none" not in a.modes:
        a.modes.insert(0, "none")
    if not os.access(a.clipbench, os.X_OK):
        sys.exit("compare_torch.py: no clipbench binary at %s (--clipbench PATH)" % a.clipbench)
    archs = [x for x in a.arch.split(",") if x]
    for x in archs:
        if x not in ARCH_DEFAULTS:
            sys.exit("compare_torch.py: unknown --arch %s" % x)
    meta = versions()
    meta.update(command=" ".join(shlex.quote(c) for c in
                                 ["python3", os.path.relpath(__file__)] + sys.argv[1:]),
                date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), cpu=cpu_name(),
                cores="%d cores online" % os.cpu_count(),
                load_before="%.2f %.2f %.2f" % os.getloadavg())
    t0 = time.time()
    results = [measure(a, x) for x in archs]
    meta["load_after"] = "%.2f %.2f %.2f" % os.getloadavg()
    meta["seconds"] = round(time.time() - t0, 1)
    s = next((r["clipbench_summary"] for r in results if r["clipbench_summary"]), {})
    meta["openblas"] = s.get("openblas", "OpenBLAS (unknown)").split(" NO_")[0]
    meta["clipbench"] = s.get("clipbench", "?")
    meta["omp_wait_policy_clipbench"] = s.get("omp_wait_policy")
    meta["omp_wait_policy_torch"] = ("passive (set by compare_torch.py)"
                                     if a.torch_wait_policy == "passive" else
                                     os.environ.get("OMP_WAIT_POLICY", "unset (libgomp spins)"))
    if a.json:
        print(json.dumps(dict(meta=meta, args=vars(a), results=results), indent=1))
    else:
        print(markdown(a, results, meta))


if __name__ == "__main__":
    main()
