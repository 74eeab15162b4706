#!/usr/bin/env bash
# The GPU checks of the equal-time issue, for a session that is lent a GPU (docs/benchmarks.md,
# "On a GPU"): one script, so that the lent minutes go to measuring, not to typing.
#   benchmarks/gpu_checks.sh OUT PYTORCH_GAN_DIR [throughput|race|suite]...   (default: all three)
#   throughput  the dcgan step of the trainer against a plain PyTorch loop on the same GPU (~2 min)
#   race        benchmarks/race.sh for MINUTES (default 2) on the GPU, both sides scored on 10,000 samples (~6 min)
#   suite       the test suite once, with the GPU visible (pytest -n JOBS, default 8)
# Needs real MNIST under $GANTHOLOGY_DATA and mnist-lenet (trained here first if it is missing).
# DEVICE=cpu runs the same steps on the CPU (a dry run of this script).
set -uo pipefail
out=${1:?usage: benchmarks/gpu_checks.sh OUT PYTORCH_GAN_DIR [throughput|race|suite]...}
pg=${2:?usage: benchmarks/gpu_checks.sh OUT PYTORCH_GAN_DIR [throughput|race|suite]...}
shift 2
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(throughput race suite)
device=${DEVICE:-cuda}
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-python}
g=${GANTHOLOGY:-ganthology}
mkdir -p "$out"
status=0
{ nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"; $py -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"; } | tee "$out/machine.txt"
$g evaluator train mnist-lenet >/dev/null 2>&1 || true  # a no-op when it is cached

for s in "${steps[@]}"; do
    echo "== $s ($(date +%T))"
    case $s in
        throughput)
            $py "$here/throughput.py" --device "$device" --steps 50 --warmup 20 --rounds 6 --max-time 120 \
                --json "$out/throughput.json" 2>&1 | tee "$out/throughput.txt" || status=1 ;;
        race)
            MINUTES=${MINUTES:-2} DEVICE=$device PYTHON=$py GANTHOLOGY=$g "$here/race.sh" "$out/race" "$pg" \
                2>&1 | tee "$out/race.txt" || status=1 ;;
        suite)
            (cd "$here/.." && $py -m pytest -q -n "${JOBS:-8}" -p no:cacheprovider) 2>&1 | tail -40 \
                | tee "$out/suite.txt" || status=1 ;;
        *) echo "unknown step $s: use throughput, race or suite" >&2; exit 2 ;;
    esac
done
exit $status
