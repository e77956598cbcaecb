#!/usr/bin/env bash
# The GPU check of issue #15 on a lent machine (PyTorch preinstalled there, no network), in calls
# short enough for its limits; each call continues $OUT/gpu-runs.jsonl and rewrites the section:
#   OUT=/dir bash bench/gpu_check.sh fast reference default   # estimated 4-6 minutes on an H100
#   OUT=/dir bash bench/gpu_check.sh best ensemble            # estimated 3-6 minutes
#   OUT=/dir bash bench/gpu_check.sh best-longer              # optional: best for 40 epochs, 3 seeds
#   OUT=/dir bash bench/gpu_check.sh graphs reference graphs-longer  # every preset again, CUDA graphs only
#   OUT=/dir bash bench/gpu_check.sh best-sweep ensemble-sweep  # best's variants, 3 seeds each, and 5
#       models of the most accurate, ensembled: all 7 variants take about 9 minutes, so two calls
#       (measured: 5.5 minutes for the first 4 and an ensemble, 4 minutes for the other 3 and one)
# Between calls, copy the returned gpu-runs.jsonl to bench/gpu-runs.jsonl (it travels with the tree):
# the parts it finished are kept and skipped, except that best-sweep trains any variant and seed the
# log lacks and ensemble-sweep joins the leader when the log has no ensemble of it; a part a time limit
# cut short runs again in full.
# $OUT/BENCHMARKS.md is this checkout's BENCHMARKS.md with its GPU section rewritten; $OUT/gpu.log the output.
# A dry run of the procedure on a CPU: DEVICE=cpu DATA=<small IDX folder> EPOCHS=1 SEEDS=1 OUT=... bash ...
set -u
export PYTHONPATH=src PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
[ -f "$OUT/BENCHMARKS.md" ] || cp BENCHMARKS.md "$OUT/BENCHMARKS.md"
[ -f "$OUT/gpu-runs.jsonl" ] || [ ! -f bench/gpu-runs.jsonl ] || cp bench/gpu-runs.jsonl "$OUT/"
exec > >(tee -a "$OUT/gpu.log") 2>&1
python3 - "$OUT" "$@" <<'PY'
import os
import sys

import torch

from bench import gpu, run
from bench.timing import machine

out, parts = sys.argv[1], tuple(sys.argv[2:]) or gpu.PARTS
device = os.environ.get("DEVICE", "cuda")
print("torch", torch.__version__, machine(), "parts", parts)
rows = gpu.run(
    device, parts, f"{out}/gpu-runs.jsonl", data=os.environ.get("DATA", "mnist"),
    epochs=int(os.environ["EPOCHS"]) if "EPOCHS" in os.environ else None, seeds=int(os.environ.get("SEEDS", 3)),
)
command = "OUT=... bash bench/gpu_check.sh " + " ".join(parts)
apart = set(parts) <= {"best-sweep", "ensemble-sweep"}
title = "GPU: variants of best (issue #15)" if apart else gpu.TITLE  # beside the presets'
section = gpu.section(rows, command, title)
run.update_section(f"{out}/BENCHMARKS.md", section)
print(section)
PY
