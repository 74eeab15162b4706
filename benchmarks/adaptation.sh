#!/usr/bin/env bash
# The domain-adaptation table of docs/results.md: MNIST (labelled source) -> MNIST-M-like (unlabelled
# target, `mnist2mnistm`), each model's classifier scored by `ganthology eval` on the 10,000 held-out
# target test images (target_acc) and the 10,000 MNIST test digits (source_acc), OUT/RUN.json each,
# then the table (benchmarks/adaptation_table.py) beside the papers' numbers on the real MNIST-M.
#   benchmarks/adaptation.sh OUT [RUN ...]    default: every run below, then the table
# DEVICE=cpu|cuda|auto (default auto); real MNIST under $GANTHOLOGY_DATA (the MNIST-M-like cache is
# built on first use, ~1-2 min). Each run fits about 5-12 minutes of one CPU core.
# GANTHOLOGY="python3 -m ganthology" runs it from a source tree without installing.
set -euo pipefail
out=${1:?usage: benchmarks/adaptation.sh OUT [RUN ...]}
shift
runs=${*:-source_only dann target_only pixelda cogan}
g=${GANTHOLOGY:-ganthology}
seed=${SEED:-0}
run() {  # run NAME MODEL [train options...]
    local name=$1
    shift
    $g train "$@" --dataset mnist2mnistm --seed "$seed" --device "${DEVICE:-auto}" --out "$out/$name" \
        --no-progress --log-every 500 --sample-every 100000
    $g eval "$out/$name" --json "$out/$name.json"
}
mkdir -p "$out"
for r in $runs; do
    case $r in
        # DANN's network (G_f + G_y, the classifier every row shares), its SGD recipe (momentum 0.9,
        # eta_p = 0.01 / (1 + 10 p)^0.75), batches of 64 source (+ 64 target for dann), 3,000 steps
        # (3.2 epochs of the source)
        source_only) run source_only dann --mode source_only --steps "${STEPS:-3000}" ;;
        # the same, adapting: domain classifier through the gradient reversal layer, lambda_p schedule
        dann) run dann dann --steps "${STEPS:-3000}" ;;
        # the same with lambda_p rising to 0.1 instead of 1 (lambda_max): a weaker reversed gradient
        dann_lambda01) run dann_lambda01 dann --lambda-max 0.1 --steps "${STEPS:-3000}" ;;
        # the upper bound: the same network and recipe trained on the labelled target images
        target_only) run target_only dann --mode target_only --steps "${STEPS:-3000}" ;;
        # paper defaults at the budget docs/results.md reports (batch 32, Adam 1e-3), 300 steps
        pixelda) run pixelda pixelda --steps "${PIXELDA_STEPS:-300}" ;;
        # CoGAN's adaptation (section 5): a softmax on the discriminators' shared last hidden layer trained with
        # MNIST labels through D1, applied to mnistm through D2; G at --ngf 16 (the paper's 128 takes ~9 s a step
        # on one core), D fc100, batch 32, Adam 2e-4 (0.5, 0.999), weight decay 5e-4
        cogan) run cogan cogan --classify --ngf 16 --ndf 20 --d-fc 100 --batch-size 32 --steps "${COGAN_STEPS:-1500}" ;;
        pixelda_source_only) run pixelda_source_only pixelda --source-only --steps "${PIXELDA_STEPS:-300}" ;;
        *) echo "unknown run $r" >&2; exit 2 ;;
    esac
done
${PYTHON:-python3} "$(dirname "$0")/adaptation_table.py" "$out"
