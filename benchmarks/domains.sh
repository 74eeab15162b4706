#!/usr/bin/env bash
# Train and score the translation, restoration and adaptation models as docs/results.md reports
# them: one run per model, then `ganthology eval` (its held-out numbers) into OUT/MODEL.json.
#   benchmarks/domains.sh OUT [MODEL ...]      default: every model below
# DEVICE=cuda|cpu|auto (default auto); STEPS overrides each budget; real MNIST under $GANTHOLOGY_DATA.
# srgan starts from OUT/srresnet, so run srresnet first (the default order does).
# GANTHOLOGY="python3 -m ganthology" runs it from a source tree without installing.
set -euo pipefail
out=${1:?usage: benchmarks/domains.sh OUT [MODEL ...]}
shift
models=${*:-cyclegan pixelda pixelda-source-only stargan srresnet srgan esrgan context_encoder}
g=${GANTHOLOGY:-ganthology}
run() {  # run NAME MODEL [train options...]
    local name=$1
    shift
    $g train "$@" --device "${DEVICE:-auto}" --out "$out/$name" --no-progress --log-every 500 --sample-every 2000
    $g eval "$out/$name" --json "$out/$name.json"
}
mkdir -p "$out"
for m in $models; do
    case $m in
        # paper settings (batch 1, 6 residual blocks below 256x256, lambda_cyc 10, pool 50, decay
        # over the second half) on 32x32 MNIST <-> MNIST-M-like
        cyclegan) run cyclegan cyclegan --dataset mnist2mnistm --steps "${STEPS:-8000}" ;;
        # paper settings (batch 32, Adam 1e-3, alpha 0.13, beta 0.011); the baseline: T on the source alone
        pixelda) run pixelda pixelda --dataset mnist2mnistm --steps "${STEPS:-300}" ;;
        pixelda-source-only) run pixelda-source-only pixelda --dataset mnist2mnistm --steps "${STEPS:-300}" --source-only ;;
        # paper hyper-parameters at CPU widths (16 filters, 2 residual blocks)
        stargan) run stargan stargan --dataset digit_attrs --steps "${STEPS:-4000}" --g-conv-dim 16 --d-conv-dim 16 --g-repeat-num 2 ;;
        # CPU widths (16 channels, 4 blocks), Adam 1e-3 decaying over the second half; srgan starts from it
        srresnet) run srresnet srresnet --dataset photo_sr --ngf 16 --n-blocks 4 --lr 1e-3 --lr-decay-from 0.5 --steps "${STEPS:-3600}" ;;
        srgan) run srgan srgan --dataset photo_sr --init-from "$out/srresnet" --ngf 16 --n-blocks 4 --ndf 32 --batch-size 8 --vgg-scale 1 --steps "${STEPS:-400}" ;;
        # paper losses and schedules at CPU widths (16 features, 2 RRDBs, growth 8): 2,000 L1-only PSNR steps
        # (Adam 1e-3 halved every 1,000), then the GAN phase; scored at alpha 1 (the GAN model); the curve
        # over alpha: docs/results.md, esrgan
        esrgan) run esrgan esrgan --dataset photo_sr --nf 16 --n-rrdb 2 --gc 8 --ndf 32 --batch-size 8 --psnr-steps 2000 \
            --psnr-lr 1e-3 --psnr-lr-halve-every 1000 --steps "${STEPS:-2400}" ;;
        # widths 32 (the paper's 64: ~3 s per batch of 64 on one core); the rest at the paper's / train.lua's values
        context_encoder) run context_encoder context_encoder --dataset photos --nef 32 --ngf 32 --ndf 32 --steps "${STEPS:-2000}" ;;
        *) echo "unknown model $m" >&2; exit 2 ;;
    esac
done
