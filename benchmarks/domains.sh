#!/usr/bin/env bash
# Train and score the translation, restoration and adaptation models as docs/results.md reports
# them: one run per model, then `ganthology eval` (its held-out numbers) into OUT/MODEL.json.
#   benchmarks/domains.sh OUT [MODEL ...]      default: every model below
# DEVICE=cuda|cpu|auto (default auto); STEPS overrides the budget; real MNIST under $GANTHOLOGY_DATA.
# GANTHOLOGY="python3 -m ganthology" runs it from a source tree without installing.
set -euo pipefail
out=${1:?usage: benchmarks/domains.sh OUT [MODEL ...]}
shift
models=${*:-cyclegan}
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
        *) echo "unknown model $m" >&2; exit 2 ;;
    esac
done
