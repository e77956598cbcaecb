"""Training on several processes with PyTorch's own machinery: torch.distributed.run and DDP.

`digitlab train --nproc N` starts N copies of itself with `torch.distributed.run` (the
launcher behind `torchrun`); `torchrun --nproc-per-node N -m digitlab train ...` does the
same, and `--nnodes`/`--node-rank`/`--rdzv-endpoint` spread a run over machines. Each copy
finds its rank in the environment the launcher sets, and joins the process group: gloo on
CPUs, NCCL on GPUs.

Every Python process digitlab starts (these, `serve --workers`' workers, JupyterLab) imports what
this one would: `python -m`/`-c` put the current folder first on the import path, where a
`typer.py` or `multiprocessing/` of the user's folder would run in place of the real one. The
children start with PYTHONSAFEPATH (as `python -P`) and this process's own import path.
"""

import contextlib
import datetime
import os
import sys
from collections.abc import Iterator

import torch
import torch.distributed as dist

from digitlab.errors import DigitlabError

TIMEOUT = datetime.timedelta(seconds=60)  # a process that waits longer on the others gives up
LAUNCHER_PID = "DIGITLAB_LAUNCHER_PID"  # set by `launch` for the processes it starts
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies


def child_environment() -> dict[str, str]:
    """The environment of a Python process digitlab starts: nothing first on its import path but what
    this process's own path holds (as absolute paths), without the current folder or the script's
    folder; an entry that PYTHONPATH cannot hold (one with its separator) is left to the child's site."""
    script = sys.argv[0] if sys.argv else ""
    unsafe = {os.path.realpath(os.getcwd()), os.path.realpath(os.path.dirname(os.path.abspath(script)))}
    path = [os.path.abspath(p) for p in sys.path if isinstance(p, str) and p and os.pathsep not in p]
    kept = [p for p in path if os.path.realpath(p) not in unsafe]
    return {**os.environ, "PYTHONSAFEPATH": "1", "PYTHONPATH": os.pathsep.join(kept)}


@contextlib.contextmanager
def clean_children() -> Iterator[None]:
    """`child_environment` as this process's while it starts processes that copy it (multiprocessing,
    torch.distributed.run); put back after."""
    saved = dict(os.environ)
    os.environ.update(child_environment())
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def launched() -> bool:
    """True inside a process started by torch.distributed.run / torchrun."""
    return "TORCHELASTIC_RUN_ID" in os.environ or int(os.environ.get("WORLD_SIZE", "1")) > 1


LAUNCHER_FLAGS = ("--nproc", "--nnodes", "--node-rank", "--rdzv-endpoint")


def without_launcher_flags(argv: list[str]) -> list[str]:
    """The command line for each process: the launcher's own flags (and values) taken out."""
    kept, skip = [], False
    for arg in argv:
        name = arg.split("=", 1)[0]
        if skip:
            skip = False
        elif name in LAUNCHER_FLAGS:
            skip = "=" not in arg
        else:
            kept.append(arg)
    return kept


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def setup() -> tuple[int, int]:
    """(rank, world size); joins the process group when there are several processes."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    if not dist.is_initialized():
        _end_with_launcher()
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if cuda else "gloo", timeout=TIMEOUT)
    return dist.get_rank(), world


def end_with_parent(parent: int) -> None:
    """In a process digitlab started (process `parent`): SIGTERM when the parent dies, kill -9 included
    (Linux's parent-death signal), or at once if it is already gone. Elsewhere nothing."""
    import signal

    if not sys.platform.startswith("linux"):
        return
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the line above
        os.kill(os.getpid(), signal.SIGTERM)


def _end_with_launcher() -> None:
    """In a process `launch` started: it would train on and write --out after the launcher was killed."""
    launcher = os.environ.get(LAUNCHER_PID, "")
    if launcher.isdigit():  # else started by torchrun itself
        end_with_parent(int(launcher))


def wrap_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """The model wrapped for DistributedDataParallel; BatchNorm synchronised across GPUs.

    PyTorch's SyncBatchNorm runs on GPUs only: on CPUs each process normalises with the
    statistics of its own slice of the batch (the cost in accuracy is measured in BENCHMARKS.md).
    """
    from torch.nn.parallel import DistributedDataParallel

    if device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return DistributedDataParallel(model, device_ids=[device.index])
    return DistributedDataParallel(model)


def teardown() -> None:
    """Leave the process group together, once training is over."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def launch(
    argv: list[str], nproc: int, nnodes: int = 1, node_rank: int = 0, endpoint: str | None = None
) -> None:
    """Run `digitlab ARGV` in `nproc` processes on this machine (of `nnodes` machines)."""
    from torch.distributed import run
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    if nnodes == 1 and endpoint is None:
        where = ["--standalone"]
    else:
        if endpoint is None:
            raise DigitlabError("nnodes: training on several machines needs a rendezvous endpoint, HOST:PORT")
        where = [
            f"--nnodes={nnodes}",
            f"--node-rank={node_rank}",
            "--rdzv-backend=c10d",
            f"--rdzv-endpoint={endpoint}",
        ]
    args = [*where, f"--nproc-per-node={nproc}", "--max-restarts=0", "--monitor-interval=0.1"]
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))  # cores shared out
    try:
        with clean_children():
            os.environ[LAUNCHER_PID] = str(os.getpid())  # put back with the rest by clean_children
            run.main([*args, "-m", "digitlab", *argv])
    except ChildFailedError as e:
        failures = "; ".join(
            f"rank {rank}: {f.message or f'exit code {f.exitcode}'}" for rank, f in e.failures.items()
        )
        raise DigitlabError(
            f"distributed training failed: {failures.splitlines()[0] if failures else e}"
        ) from None
