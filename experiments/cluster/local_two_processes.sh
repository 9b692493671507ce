#!/usr/bin/env bash
# Two jaxops processes on one machine, each with 2 CPU devices: a 4-device, 2-process
# data-parallel run, started explicitly (no launcher), then evaluated by a single process.
# The same mechanics as a multi-host run (jax.distributed, gloo collectives on CPU, one
# shared run directory, process 0 writing the results), sized to finish in about a minute.
#
#   experiments/cluster/local_two_processes.sh                 # from anywhere; needs `jaxops` on PATH
#   experiments/cluster/local_two_processes.sh data.resolution=17 model.width=12   # extra overrides
#
# Environment: DEMO_DIR (where datasets/ and runs/ go; default the repository root), PORT
# (process 0's coordinator port; default 12355). The test suite runs this script at small
# size and checks that its metrics equal a one-process run's.
set -euo pipefail
cd "${DEMO_DIR:-$(dirname "$0")/../..}"            # datasets/ and runs/ go here

RUN_DIR=runs/two_process_demo
LOGS=runs/two_process_demo_logs                     # one log per process
PORT="${PORT:-12355}"                               # process 0 serves the coordinator here
DATA=(experiment=darcy_fno data.n_samples=120 data.n_test=20 "$@")

export JAX_PLATFORMS=cpu                                        # CPU even where a GPU exists
export XLA_FLAGS=--xla_force_host_platform_device_count=2       # 2 devices per process

# A fresh demo: a run directory that holds a training state is refused without resume=true.
rm -rf "$RUN_DIR" "$LOGS"
mkdir -p "$LOGS"

# The dataset, generated once by one process on its 2 devices (train would otherwise
# generate it, split by chunks over the two processes).
jaxops generate "${DATA[@]}"

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT                                   # never leave a process behind
trap 'exit 130' INT TERM
for i in 0 1; do
    # The default parallel=auto: data parallel over all 2 x 2 devices, as trainer.batch_size=20
    # (the global batch) splits into 5 per device.
    jaxops train "${DATA[@]}" trainer.epochs=2 trainer.batch_size=20 \
        parallel.distributed=on parallel.coordinator_address="localhost:${PORT}" \
        parallel.num_processes=2 parallel.process_id="$i" \
        hydra.run.dir="$RUN_DIR" trainer.progress=false \
        > "$LOGS/process_$i.log" 2>&1 &
    pids+=($!)
done

# Wait for both; if one fails, stop the other (it would wait for its peer in a collective).
for _ in 0 1; do
    if ! wait -n; then
        echo "a training process failed; logs:" >&2
        for i in 0 1; do echo "--- process $i" >&2; tail -n 20 "$LOGS/process_$i.log" >&2; done
        exit 1
    fi
done
trap - EXIT
cat "$LOGS/process_0.log"

# Evaluation needs no second process: the checkpoint loads on any number of devices.
jaxops evaluate run="$RUN_DIR"
echo "results: $RUN_DIR (summary.json, metrics.jsonl, figures); process logs: $LOGS"
