#!/usr/bin/env bash
# Data-parallel training of the FNO paper's Navier-Stokes protocol on a Cloud TPU pod slice
# (v4-32: 4 workers (hosts) x 4 chips = 16 JAX devices; or v5e v5litepod-16: 16 devices).
# Every worker runs the same `jaxops train`, one process per worker (--worker=all).
# Run from the repository root on a machine with gcloud (authenticated, project set):
#
#   experiments/cluster/tpu_pod.sh create     # 1. the pod slice
#   experiments/cluster/tpu_pod.sh mount      # 2. the shared filesystem on every worker
#   experiments/cluster/tpu_pod.sh install    # 3. jaxops on every worker
#   experiments/cluster/tpu_pod.sh train      # 4. train (prints the RUN_ID)
#   experiments/cluster/tpu_pod.sh logs       #    follow worker 0's output
#   RUN_ID=<id> experiments/cluster/tpu_pod.sh resume   # continue a stopped or failed run
#   experiments/cluster/tpu_pod.sh stop       #    stop the run on every worker
#   experiments/cluster/tpu_pod.sh delete     # 5. delete the slice (runs stay on the share)
set -euo pipefail

TPU_NAME="${TPU_NAME:-jaxops-pod}"
ZONE="${ZONE:-us-central2-b}"                 # a zone that offers the accelerator type
ACCELERATOR="${ACCELERATOR:-v4-32}"
RUNTIME="${RUNTIME:-tpu-ubuntu2204-base}"
# v5e: ZONE=<a v5e zone> ACCELERATOR=v5litepod-16 RUNTIME=v2-alpha-tpuv5-lite
SHARED="${SHARED:-/mnt/shared}"               # where every worker mounts the shared filesystem
NFS_EXPORT="${NFS_EXPORT:-10.0.0.2:/share}"   # <Filestore IP>:/<file share> (see mount)

on_workers() {  # $1: worker(s) ("all" or an index), $2: command run there
    gcloud compute tpus tpu-vm ssh "$TPU_NAME" --zone="$ZONE" --worker="$1" --command="$2"
}

train() {  # $1: run id (same on every worker: the run directory), $2: resume true/false
    # parallel.distributed=on: JAX's Cloud TPU detection (VM metadata) finds the coordinator,
    # process count and id. trainer.batch_size is the GLOBAL batch and must be divisible by
    # the 16 devices; the paper's 20 is not, so the global batch is 1 x 16 with optim.lr
    # scaled linearly (x 16/20). If $SHARED/datasets/ lacks the dataset, all workers generate
    # it first, split by chunks (on a pod slice all workers must run JAX together: do not
    # generate on one worker alone). Process 0 writes logs, metrics, figures, summary.json.
    # nohup: a dropped ssh session does not stop the run.
    on_workers all "source ~/venv/bin/activate && cd $SHARED && { nohup jaxops train \
        experiment=navier_stokes_fno_paper parallel=data parallel.distributed=on \
        parallel.per_device_batch=1 parallel.lr_scaling=linear \
        hydra.run.dir=runs/navier_stokes_fno_paper/$1 resume=$2 \
        < /dev/null > ~/jaxops-train.log 2>&1 & echo \$! > ~/jaxops-train.pid; }"
    echo "RUN_ID=$1  run directory: $SHARED/runs/navier_stokes_fno_paper/$1"
}

case "${1:-}" in
create)
    gcloud compute tpus tpu-vm create "$TPU_NAME" --zone="$ZONE" \
        --accelerator-type="$ACCELERATOR" --version="$RUNTIME"
    ;;
mount)
    # Every process must see the same dataset file and run directory, and all take part in
    # the orbax checkpoint writes, which finalise a step by renaming a directory: use an NFS
    # share (a Filestore instance in the slice's region and VPC network), mounted at the same
    # path on every worker. A bucket mounted with gcsfuse is not equivalent (directory
    # renames are not atomic, and fail without --rename-dir-limit); keep copies of datasets
    # and finished runs in a bucket instead (gcloud storage cp).
    on_workers all "sudo apt-get update -y && sudo apt-get install -y nfs-common \
        && sudo mkdir -p $SHARED && sudo mount -t nfs $NFS_EXPORT $SHARED \
        && sudo chmod a+rwx $SHARED"
    ;;
install)
    # jaxops needs Python >= 3.11 (the Ubuntu 22.04 images ship 3.10). The code lives on each
    # worker's own disk (the committed HEAD of this checkout); only datasets/ and runs/
    # (under $SHARED) must be shared.
    git archive --format=tar.gz -o /tmp/jaxops.tar.gz HEAD
    gcloud compute tpus tpu-vm scp /tmp/jaxops.tar.gz "$TPU_NAME":jaxops.tar.gz \
        --zone="$ZONE" --worker=all
    on_workers all "sudo apt-get install -y python3.11 python3.11-venv \
        && python3.11 -m venv ~/venv && source ~/venv/bin/activate \
        && mkdir -p ~/jaxops && tar -xzf ~/jaxops.tar.gz -C ~/jaxops \
        && pip install -U pip 'jax[tpu]' && pip install -e ~/jaxops \
        && python -c 'import jax; print(jax.process_index(), jax.device_count())'"
    ;;
train)
    train "${RUN_ID:-$(date +%Y%m%d-%H%M%S)}" false
    ;;
resume)
    # Same RUN_ID (run directory) as the interrupted run; stop any leftover process first.
    train "${RUN_ID:?set RUN_ID to the run to resume}" true
    ;;
logs)
    on_workers 0 "tail -f ~/jaxops-train.log"
    ;;
stop)
    on_workers all "kill \$(cat ~/jaxops-train.pid) || true"
    ;;
delete)
    gcloud compute tpus tpu-vm delete "$TPU_NAME" --zone="$ZONE"
    ;;
*)
    sed -n '2,13p' "$0"
    exit 2
    ;;
esac
