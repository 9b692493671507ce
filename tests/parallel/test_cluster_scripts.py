"""The cluster launch scripts (`experiments/cluster/slurm_gpu.sbatch`, `tpu_pod.sh`) cannot
run here, but every `jaxops` command they run is composed with `--cfg job` under the
environment variables their launchers set, and the composed config is validated and checked
against what the script's comments promise (global batch divisible by the devices, learning
rate scaled)."""

import re
import shlex
from pathlib import Path

import pytest
from helpers import jaxops_in_process
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from jaxops.cli.main import PRIMARY_CONFIG
from jaxops.experiment.paths import config_dir
from jaxops.experiment.schema import register_configs, validate_config
from jaxops.parallel.config import scaled_batch_and_lr

CLUSTER = Path(__file__).resolve().parents[2] / "experiments" / "cluster"

SLURM_ENV = {  # task 5 of 2 nodes x 4 GPUs, as srun sets it
    "SLURM_JOB_ID": "4242", "SLURM_NTASKS": "8", "SLURM_PROCID": "5", "SLURM_LOCALID": "1",
    "SLURM_NODEID": "1", "SLURM_NNODES": "2", "SLURM_STEP_NODELIST": "gpu[01-02]",
    "SLURM_CPUS_PER_TASK": "8", "SLURM_SUBMIT_DIR": ".", "JAX_LOCAL_DEVICE_IDS": "0",
}  # fmt: skip
TPU_ENV = {  # worker 2 of a v4-32 slice (4 hosts x 4 chips)
    "TPU_WORKER_HOSTNAMES": "t0,t1,t2,t3", "TPU_WORKER_ID": "2", "TPU_ACCELERATOR_TYPE": "v4-32",
}  # fmt: skip

# (script, variables substituted in its commands, launcher environment, devices, commands)
SCRIPTS = {
    "slurm": ("slurm_gpu.sbatch", {"${RUN_DIR}": "runs/ns/4242", "${RESUME}": "false"},
              SLURM_ENV, 8, ("generate", "train")),
    "tpu": ("tpu_pod.sh", {"$1": "20261204-120000", "$2": "false"}, TPU_ENV, 16, ("train",)),
}  # fmt: skip


def jaxops_commands(script: Path, values: dict[str, str]) -> list[list[str]]:
    """The argument lists of the `jaxops generate|train` commands a shell script runs (not
    those in its comments), with `values` substituted for its shell variables."""
    text = script.read_text().replace("\\\n", " ")  # join continued lines
    for name, value in values.items():
        text = text.replace(name, value)
    commands = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        for match in re.finditer(r"\bjaxops (generate|train)\b[^<>&;|}#]*", line):
            commands.append(shlex.split(match.group(0))[1:])
    return commands


@pytest.mark.parametrize("launcher", sorted(SCRIPTS))
def test_every_command_of_the_launch_script_composes_and_validates(launcher, tmp_path, monkeypatch):
    name, values, launcher_env, devices, expected = SCRIPTS[launcher]
    commands = jaxops_commands(CLUSTER / name, values)
    assert [c[0] for c in commands] == list(expected)  # none missed by the parser
    for variable, value in launcher_env.items():  # what the configs' ${oc.env:...} read
        monkeypatch.setenv(variable, value)
    register_configs()
    for command in commands:
        # `--cfg job` prints the composed config before JAX starts: this process will do
        done = jaxops_in_process(*command, "--cfg", "job", cwd=tmp_path)
        assert done.returncode == 0, f"{command}: {done.stderr}"
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            composed = compose(config_name=PRIMARY_CONFIG[command[0]], overrides=command[1:])
        assert OmegaConf.create(done.stdout) == composed  # what the command printed
        config = validate_config(composed)
        assert config.name == "navier_stokes_fno_paper"
        if command[0] != "train":
            continue
        # The global batch the script's device count gets must split over the devices, and
        # the learning rate is scaled linearly for it, as the script's comments say.
        batch, lr = scaled_batch_and_lr(
            config.parallel, devices, config.trainer.batch_size, config.optim.lr
        )
        assert batch % devices == 0 and batch == devices * config.parallel.per_device_batch
        assert lr == pytest.approx(config.optim.lr * batch / config.trainer.batch_size)
        assert config.parallel.mesh.data == -1 and config.parallel.mesh.space == 1
