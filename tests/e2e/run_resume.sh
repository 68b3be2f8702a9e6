#!/usr/bin/env bash
# clipbench run: a run killed with SIGKILL at an arbitrary moment and started
# again ends with the same epoch rows (no duplicates, no gaps) and bit-identical
# weights as an uninterrupted run; two processes writing one database at once
# both finish with every row. Usage: run_resume.sh CLIPBENCH SOURCE_DIR
set -euo pipefail
CB=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
cat > exp.yaml <<'YAML'
name: resume
seed: 5
data: {size: [64, 64], count: 40}
model: {arch: nested_unet, width: 4, depth: 2}
train: {epochs: 5, batch_size: 8, lr: 0.05, optimizer: sgd, momentum: 0.9}
dp: {clipping: adaptive, noise_multiplier: 0.8, accountants: [rdp, gdp, pld]}
YAML
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
rows() { # every column but the timing ones, in a stable order
  sqlite3 -separator ' ' "$1" "SELECT epoch, step, steps, train_loss, train_pixel_acc, val_loss,
    val_pixel_acc, val_dice, epsilon, eps_rdp, eps_gdp, eps_pld, clip_bound, frac_clipped, norm_p10,
    norm_p50, norm_p99, norm_max, realised_batch FROM epochs ORDER BY run_id, epoch"
}
ckpt() { find "$(dirname "$1")/checkpoints" -name checkpoint.safetensors -exec sha256sum {} + | cut -d' ' -f1; }

"$CB" run exp.yaml --db a/results.db --quiet
rows a/results.db > a.rows
[[ $(wc -l < a.rows) -eq 5 ]] || { echo "expected 5 epochs"; cat a.rows; exit 1; }
# Every epoch carries the PLD upper bound, below the RDP one.
[[ $(sqlite3 a/results.db "SELECT count(*) FROM epochs WHERE eps_pld > 0 AND eps_pld < eps_rdp") \
  -eq 5 ]] || { echo "eps_pld missing or above eps_rdp"; cat a.rows; exit 1; }

# Kill -9 at several moments: while epoch 1, then epoch 3, is being trained.
mkdir -p b
for target in 1 3; do
  "$CB" run exp.yaml --db b/results.db --quiet &
  pid=$!
  for _ in $(seq 1 600); do
    n=$(sqlite3 b/results.db "SELECT count(*) FROM epochs" 2>/dev/null || echo 0)
    [[ ${n:-0} -ge $target ]] && break
    sleep 0.02
  done
  sleep 0.1
  kill -9 $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
done
status=$(sqlite3 b/results.db "SELECT status FROM runs")
[[ $status == running || $status == finished ]] || { echo "unexpected status $status"; exit 1; }
# The dead process's run is taken back at once (same host, pid gone).
"$CB" run exp.yaml --db b/results.db --quiet
rows b/results.db > b.rows
diff a.rows b.rows || { echo "rows after kill -9 and resume differ"; exit 1; }
[[ $(ckpt a/results.db) == $(ckpt b/results.db) ]] || { echo "final weights differ"; exit 1; }
[[ $(sqlite3 b/results.db "SELECT status FROM runs") == finished ]]

# Two processes, two runs, one database, at the same time.
"$CB" run exp.yaml --db c/results.db --quiet --set seed=1 &
p1=$!
"$CB" run exp.yaml --db c/results.db --quiet --set seed=2 &
p2=$!
wait $p1
wait $p2
[[ $(sqlite3 c/results.db "SELECT count(*) FROM runs WHERE status='finished'") -eq 2 ]]
[[ $(sqlite3 c/results.db "SELECT count(*) FROM epochs") -eq 10 ]]
# A checkpoint drives previews of its predictions and per-sample gradients.
ck=$(find a/checkpoints -name checkpoint.safetensors | head -1)
"$CB" data preview synthetic --size 64 64 --images 40 --seed 5 --draw 3 --checkpoint "$ck" \
  --out pred.png > /dev/null
[[ $(head -c 8 pred.png | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || { echo "not a PNG"; exit 1; }
"$CB" grads exp.yaml --checkpoint "$ck" --out g --json > g.json
grep -q '"batch":' g.json && [[ -s g/clipped_sum.safetensors && -s g/norms.safetensors ]]
if "$CB" data preview synthetic --size 64 64 --checkpoint exp.yaml --out x.png 2> err.txt; then
  echo "a YAML file was accepted as a checkpoint"; exit 1
fi
grep -q "exp.yaml" err.txt
echo "resume and concurrent writers: ok"
