#!/usr/bin/env bash
# One short check of the CUDA path on a lent GPU machine (PyTorch preinstalled there, no network).
# Usage: OUT=/some/dir bash bench/gpu_check.sh   -- writes $OUT/gpu.log
set -u
export PYTHONPATH=src PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu.log") 2>&1
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
t() { local s=$(date +%s.%N); "$@"; echo "  wall $(echo "$(date +%s.%N) - $s" | bc) s: $*"; }
for s in 0 1 2; do t python3 -m digitlab train --preset fast --device cuda --seed $s --out "$OUT/fast$s" | tail -1; done
echo "same model evaluated on the CPU after loading:"
python3 -m digitlab evaluate "$OUT/fast0" | head -1
t python3 -m digitlab train --preset default --device cuda --seed 0 --out "$OUT/default0" | tail -1
for s in 0 1 2; do t python3 -m digitlab train --preset best --device cuda --seed $s --out "$OUT/best$s" | tail -1; done
t python3 -c "from digitlab.bench.reference import time_to_accuracy as f; r = f(device='cuda'); print('reference', r)"
