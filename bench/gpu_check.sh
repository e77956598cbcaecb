#!/usr/bin/env bash
# One short check of the CUDA path on a lent GPU machine (PyTorch preinstalled there, no network).
# Usage: OUT=/some/dir bash bench/gpu_check.sh [presets...]   -- writes $OUT/gpu.log
set -u
export PYTHONPATH=src PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu.log") 2>&1
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
run() {  # preset seed: train on CUDA, then print wall seconds, the stages' seconds and the accuracy
  local start=$(date +%s%N)
  python3 -m digitlab train --preset "$1" --device cuda --seed "$2" --out "$OUT/$1$2" > "$OUT/$1$2.out"
  local wall=$(( ($(date +%s%N) - start) / 1000000 ))
  echo "$1 seed $2: wall ${wall} ms, $(tail -1 "$OUT/$1$2.out"), stages $(python3 -c "import json; print(json.load(open('$OUT/$1$2/model.json'))['seconds'])")"
}
for s in 0 1 2; do run fast $s; done
echo "fast seed 0 reloaded and evaluated on the CPU: $(python3 -m digitlab evaluate "$OUT/fast0" | head -1)"
run default 0
run best 2
