#!/usr/bin/env bash
# The MNIST numbers of docs/results.md, "What each idea achieves on MNIST" (issue 5): conditional
# accuracy, semi-supervised accuracy, clustering, reconstruction, linear probes and the InfoGAN
# traversals. Needs MNIST under $GANTHOLOGY_DATA; about 5 hours on a 2-core CPU, plus the two
# GPU blocks marked below (10 minutes on an H100, about 12 hours on that CPU).
#
#     GANTHOLOGY_DATA=/path/to/data bash benchmarks/ideas_mnist.sh
set -euo pipefail
OUT=${OUT:-runs/ideas}
mkdir -p "$OUT"

ganthology evaluator train mnist-lenet  # once; cached afterwards

# 1. Each model at the bench budget (1000 steps): the bench record holds its held-out numbers too
#    (sgan test_accuracy, infogan / cluster_gan cluster_acc, nmi, ari, recon_mse of the encoders).
ganthology bench acgan infogan sgan cluster_gan aae vae_gan bigan --steps 1000 --n 5000

# 2. sgan's baseline: the same D/C on the same 100 labels, alone.
ganthology train sgan --supervised-only --steps 1000 --out "$OUT/sgan-labels-only" --no-progress
ganthology eval "$OUT/sgan-labels-only" --metrics heldout --n 500

# 3. Past the bench budget: the conditional models, and InfoGAN's clustering. (We continued the
#    bench runs with --resume, which gives the same weights as these straight runs.)
for steps in 5000 20000 30000; do
  ganthology train cgan --steps $steps --out "$OUT/cgan-$steps" --no-progress
  ganthology eval "$OUT/cgan-$steps" --metrics accuracy,fd --n 10000
done
ganthology train acgan --steps 3000 --out "$OUT/acgan-3000" --no-progress
ganthology eval "$OUT/acgan-3000" --metrics accuracy,fd --n 10000
for steps in 3000 6000; do
  ganthology train infogan --steps $steps --out "$OUT/infogan-$steps" --no-progress
  ganthology eval "$OUT/infogan-$steps" --metrics heldout,fd --n 10000
done
for seed in 1 2 3; do  # how much InfoGAN's clustering depends on the seed (~30 min each)
  ganthology train infogan --steps 3000 --seed $seed --out "$OUT/infogan-3000-s$seed" --no-progress
  ganthology eval "$OUT/infogan-3000-s$seed" --metrics heldout
done
ganthology train infogan --steps 3000 --image-size 28 --out "$OUT/infogan-3000-28px" --no-progress  # the authors' size
ganthology eval "$OUT/infogan-3000-28px" --metrics heldout
# The authors' budget, 5000 updates, over ten seeds: on one H100 (torch 2.11) all ten ran at once in
# 3.5 minutes (OMP_NUM_THREADS=1 each); about 45 minutes a run on a 2-core CPU.
for seed in 0 1 2 3 4 5 6 7 8 9; do
  ganthology train infogan --steps 5000 --seed $seed --out "$OUT/infogan-5000-s$seed" --no-progress
  ganthology eval "$OUT/infogan-5000-s$seed" --metrics heldout
done
ganthology latent traverse "$OUT/infogan-5000-s3" --code digit -o docs/images/infogan-mnist-digit-5000-s3.png
# ClusterGAN past the bench budget: the bench run (1000 critic steps) continued to 2000 (400 G/E steps).
cp -r runs/bench/cluster_gan-mnist "$OUT/cluster_gan-2000"
ganthology train cluster_gan --steps 2000 --resume "$OUT/cluster_gan-2000" --out "$OUT/cluster_gan-2000" --no-progress
ganthology eval "$OUT/cluster_gan-2000" --metrics heldout,fd --n 10000
# ClusterGAN on a GPU (H100): two runs of seed 0, stopped by SIGTERM (with a checkpoint) after 290 s
# at critic step 13,441 and after 400 s at 35,910 (7,182 G/E steps); --steps N runs the same schedule.
for steps in 13441 35910; do
  ganthology train cluster_gan --steps $steps --out "$OUT/cluster_gan-$steps" --no-progress
  ganthology eval "$OUT/cluster_gan-$steps" --metrics heldout,fd --n 5000
done

# 4. Representations: a linear probe on BiGAN's encoder and on DCGAN's discriminator (section 5.1),
#    each against the same network untrained and against raw pixels.
ganthology probe runs/bench/bigan-mnist --features encoder
ganthology probe runs/bench/dcgan-mnist

# 5. InfoGAN's figure 2: one row per draw, one continuous code swept from -2 to 2.
for code in digit c1 c2; do
  ganthology latent traverse "$OUT/infogan-3000" --code "$code" -o "docs/images/infogan-mnist-$code.png"
done
