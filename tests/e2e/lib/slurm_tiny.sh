# Shared by tests/e2e/slurm_cluster.sh and slurm_shards.sh: the tiny sweep
# both submit (6 runs: 2 architectures x (non-private + per-layer at 2 noise
# multipliers), 8 epochs each) and the queries that compare databases.
# Sourced from the test's work folder.
cat > base.yaml << 'YAML'
seed: 4
data: {size: [32, 32], count: 96}
model: {arch: unet, width: 8, depth: 2}
train: {epochs: 8, batch_size: 8, lr: 0.05, momentum: 0.9}
dp: {clipping: flat, noise_multiplier: 0.5, accountants: [rdp]}
YAML
cat > s.yaml << 'YAML'
name: tiny
base: base.yaml
arms:
  nonprivate: {dp.clipping: none}
  per_layer: {dp.clipping: per_layer}
grid:
  model.arch: [unet, nested_unet]
  dp.noise_multiplier: [0.5, 1.0]
YAML
N=6
E=8
q() { sqlite3 "$1" "$2"; }
# Everything a run computed (timing columns aside), its identity and status,
# and the sweep's positions.
rows() {
  q "$1" "SELECT run_id, epoch, step, steps, train_loss, train_pixel_acc, val_loss, val_pixel_acc,
      val_dice, val_dice_fg, val_iou, val_iou_fg, expected_batch, realised_batch, epsilon, eps_rdp,
      delta, clip_bound, noise_multiplier, frac_clipped, norm_p10, norm_p50, norm_p99, norm_max, lr
      FROM epochs ORDER BY run_id, epoch;
    SELECT * FROM epoch_classes ORDER BY run_id, epoch, class;
    SELECT * FROM layer_norms ORDER BY run_id, epoch, layer;
    SELECT id, name, config, status, error FROM runs ORDER BY id;
    SELECT s.name, s.spec, r.idx, r.run_id, r.point FROM sweep_runs r JOIN sweeps s ON s.id = r.sweep_id
      ORDER BY s.name, r.idx"
}
D=main/m.slurm/tiny
shard_at() { echo "$D/shards/$(q main/m.db "SELECT run_id FROM sweep_runs WHERE idx = $1").db"; }
