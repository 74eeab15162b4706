#!/usr/bin/env bash
# Train the seven translation models on the same one-to-many pairs (edges2mnistm: the edge map of an
# MNIST digit -> that digit over a random photo patch, 32x32) as docs/results.md reports them, score
# each with `ganthology eval` (its own held-out numbers) into OUT/MODEL.json, then compare all of
# them on the same held-out inputs (benchmarks/translation_compare.py: table + figure).
#   benchmarks/translation.sh OUT [MODEL ...]      default: every model below, then the comparison
# DEVICE=cuda|cpu|auto (default auto); STEPS overrides each budget; real MNIST under $GANTHOLOGY_DATA.
# Unpaired models read the pairs as two independently shuffled domains (domains:edges2mnistm).
# Every model runs at its paper's settings with the networks at half the paper's width (32 filters in
# the first layer) for about 10 minutes of one CPU core each: steps differ, wall-clock time does not.
# GANTHOLOGY="python3 -m ganthology" runs it from a source tree without installing.
set -euo pipefail
out=${1:?usage: benchmarks/translation.sh OUT [MODEL ...]}
shift
models=${*:-pix2pix bicyclegan cyclegan discogan dualgan unit munit}
g=${GANTHOLOGY:-ganthology}
run() {  # run MODEL [train options...]
    local name=$1
    $g train "$@" --dataset edges2mnistm --device "${DEVICE:-auto}" --out "$out/$name" --no-progress \
        --log-every 200 --sample-every 1000
    $g eval "$out/$name" --n 2000 --json "$out/$name.json"
}
mkdir -p "$out"
for m in $models; do
    case $m in
        # paper settings: U-Net, 70x70 PatchGAN, lambda_L1 100, batch 4 (edges2shoes, appendix 6.2)
        pix2pix) run pix2pix --ngf 32 --ndf 32 --steps "${STEPS:-15000}" ;;
        # paper settings (see docs/results.md, cyclegan): batch 1, 6 residual blocks, lambda_cyc 10
        cyclegan) run cyclegan --ngf 32 --ndf 32 --steps "${STEPS:-6000}" ;;
        # paper settings (section 3-4): lambda 10 / 0.1 / 100, Adam 1e-4 (0.5, 0.999), batch 1, 3 + 1 shared
        # residual blocks, single-scale D down to 4x4 (3 stride-2 layers at 32x32)
        unit) run unit --ngf 32 --ndf 32 --steps "${STEPS:-6000}" ;;
        # paper core (BCE GAN + MSE reconstruction both ways, equal weights), official code's Adam 2e-4, batch 64;
        # depth 3 at 32x32; the official extras (feature matching, curriculum, D every 3rd step) off.
        # At ngf/ndf 32, about 0.28 s a step on one CPU thread (225 images/s): 16 min
        discogan) run discogan --ngf 32 --ndf 32 --steps "${STEPS:-2200}" ;;
        # WGAN-GP (the official code's later objective; the paper's clipping, --gan wgan, collapses here),
        # RMSProp 5e-5, n_critic 2, lambda 100 L1 recovery, c 0.1 for --gan wgan, batch 4, 5-level U-Net
        dualgan) run dualgan --ngf 32 --ndf 32 --steps "${STEPS:-4000}" ;;
        # official settings (junyanz/BicycleGAN): batch 2 split between the cVAE-GAN and cLR-GAN branches,
        # lambda 10 / latent 0.5 / KL 0.01, |z| 8, Adam 2e-4 (0.5, 0.999), constant then linear decay to 0
        bicyclegan) run bicyclegan --ngf 32 --nef 32 --ndf 32 --steps "${STEPS:-8000}" ;;
        # official settings (NVlabs/MUNIT edges2shoes config, paper section 5.1): gan 1, x 10, c 1, s 1, x_cyc 0,
        # style 8, 4 residual blocks, 3-scale LSGAN D, Adam 1e-4 (0.5, 0.999), wd 1e-4, batch 1 (the lr halves
        # every 100k steps: not reached here); one translation per input from N(0, I) styles, diversity over 4
        munit) run munit --dim 32 --ndf 32 --steps "${STEPS:-3300}" ;;
        *) echo "unknown model $m" >&2; exit 2 ;;
    esac
done
if [ -z "${*:-}" ]; then
    python3 "$(dirname "$0")/translation_compare.py" "$out" --out "$out/translation-compare.png"
fi
