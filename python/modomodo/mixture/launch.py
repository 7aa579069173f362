"""Launchers for independent pilot runs: each job is one command line.

The interface is one method, `run(jobs) -> iterator of JobResult` in completion order,
so the loop in `loop.py` does not care where the commands run:
- `LocalLauncher(parallel=N)`: subprocesses on this machine, N at a time;
- `RayLauncher()`: one Ray task per job on an existing Ray cluster (or a local one);
  install with `pip install modomodo[ray]`. The jobs' output directories must be on a
  file system every node sees.
A job's standard output and error go to `<output_dir>/<log_name>`.

Two writers never meet in one run directory. A local job's process is killed by the
kernel when the thread that started it dies (Linux `PR_SET_PDEATHSIG`), so a `kill -9`
of `modomodo-mix run` leaves no training behind. And every job holds an exclusive
`flock` on `<output_dir>.lock` (beside the directory, so it survives the directory
being renamed) that its process inherits: should a job outlive its launcher anyway (its
own children, another OS), the lock stays held until the last holder exits, and the
next writer is refused with the holder's pid instead of racing it.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass
class Job:
    name: str
    argv: list[str]
    output_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    log_name: str = "log.txt"

    @property
    def log(self) -> Path:
        return Path(self.output_dir) / self.log_name


@dataclass
class JobResult:
    job: Job
    returncode: int
    seconds: float
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Launcher(Protocol):
    def run(self, jobs: Sequence[Job]) -> Iterator[JobResult]: ...


# -- locks -------------------------------------------------------------------------------


class Busy(ValueError):
    """The lock is held by another process."""


class DirLock:
    """An exclusive, non-blocking `flock` on `path`, which records the holder's pid.

    The lock belongs to the open file, so a child given the descriptor (`pass_fds`)
    keeps it held after this process closes its copy or dies. Releasing is closing,
    never `LOCK_UN`: an unlock would free it for the child too.
    """

    def __init__(self, path: str | Path, what: str) -> None:
        self.path = Path(path)
        self.what = what
        self.fd = -1

    def acquire(self) -> DirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise
            raise Busy(
                f"{self.what} is in use by another process (pid {holder_pid(self.path) or 'unknown'}, "
                f"lock {self.path}); wait for it to finish or stop it, then try again"
            ) from None
        self.fd = fd
        self.note(os.getpid())
        return self

    def note(self, pid: int) -> None:
        """Record `pid` as the holder (for the message a refused writer gets)."""
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{pid}\n".encode(), 0)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> DirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.close()


def holder_pid(lock_path: str | Path) -> int | None:
    try:
        return int(Path(lock_path).read_text().strip())
    except (OSError, ValueError):
        return None


def run_lock_path(output_dir: str | Path) -> Path:
    """The lock of a run directory: a sibling file, so renaming the directory keeps it."""
    out = Path(output_dir)
    return out.with_name(out.name + ".lock")


def check_free(output_dir: str | Path) -> None:
    """Raise `Busy` if some process (a job that outlived its launcher) still writes `output_dir`."""
    DirLock(run_lock_path(output_dir), f"run directory {output_dir}").acquire().close()


# -- processes ---------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _die_with_parent(parent: int):
    """A `preexec_fn` (runs in the child between fork and exec) asking the kernel to
    SIGKILL the child when the thread that forked it dies; None where there is no prctl.
    The thread is a launcher thread blocked in `wait()` on this child, so it outlives
    the child unless the whole launcher process dies."""
    if _prctl is None:
        return None

    def preexec() -> None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the launcher died before the request took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


def run_job(
    argv: Sequence[str], output_dir: str, log: str, env: Mapping[str, str], timeout: float | None
) -> tuple[int, float, str]:
    """Run one command, its output to `log`, holding the run directory's lock (the
    process inherits it). Returns (returncode, seconds, error)."""
    start = time.monotonic()
    try:
        lock = DirLock(run_lock_path(output_dir), f"run directory {output_dir}").acquire()
    except Busy as exc:
        return 75, time.monotonic() - start, str(exc)
    try:
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        with open(log, "w", encoding="utf-8") as fh:
            proc = subprocess.Popen(
                list(argv),
                stdout=fh,
                stderr=subprocess.STDOUT,
                env={**os.environ, **env},
                pass_fds=(lock.fd,),
                preexec_fn=_die_with_parent(os.getpid()),
            )
        lock.note(proc.pid)
        try:
            return proc.wait(timeout), time.monotonic() - start, ""
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return 124, time.monotonic() - start, f"timed out after {timeout} s"
        except BaseException:  # Ctrl-C or an error here: the job must not outlive us
            proc.kill()
            proc.wait()
            raise
    except FileNotFoundError as exc:
        return 127, time.monotonic() - start, f"command not found: {exc.filename!r} (argv {list(argv)})"
    finally:
        lock.close()


class LocalLauncher:
    """Subprocesses on this machine, `parallel` at a time."""

    def __init__(self, parallel: int = 1, *, timeout: float | None = None) -> None:
        if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
            raise ValueError(f"parallel={parallel!r}: expected an integer >= 1")
        self.parallel = parallel
        self.timeout = timeout

    def run(self, jobs: Sequence[Job]) -> Iterator[JobResult]:
        jobs = list(jobs)
        if not jobs:
            return
        with ThreadPoolExecutor(max_workers=self.parallel) as pool:
            pending: dict[Future[tuple[int, float, str]], Job] = {
                pool.submit(run_job, j.argv, str(j.output_dir), str(j.log), j.env, self.timeout): j
                for j in jobs
            }
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    job = pending.pop(fut)
                    rc, secs, err = fut.result()
                    yield JobResult(job, rc, secs, err)


class RayLauncher:
    """One Ray task per job. Uses the running Ray session if there is one, else
    `ray.init(address=address, **init_kwargs)` (address None starts a local one)."""

    def __init__(
        self,
        *,
        address: str | None = None,
        num_cpus_per_job: float = 1.0,
        timeout: float | None = None,
        init_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        try:
            import ray
        except ImportError:
            raise ValueError("the Ray launcher needs ray: pip install 'modomodo[ray]'") from None
        self._ray = ray
        self.address = address
        self.num_cpus_per_job = num_cpus_per_job
        self.timeout = timeout
        self.init_kwargs = dict(init_kwargs or {})

    def run(self, jobs: Sequence[Job]) -> Iterator[JobResult]:
        ray = self._ray
        jobs = list(jobs)
        if not jobs:
            return
        if not ray.is_initialized():
            ray.init(address=self.address, **self.init_kwargs)
        task = ray.remote(num_cpus=self.num_cpus_per_job)(run_job)
        refs = {task.remote(j.argv, str(j.output_dir), str(j.log), j.env, self.timeout): j for j in jobs}
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            for ref in done:
                job = refs.pop(ref)
                rc, secs, err = ray.get(ref)
                yield JobResult(job, rc, secs, err)


def make_launcher(
    kind: str, *, parallel: int = 1, timeout: float | None = None, address: str | None = None
) -> Launcher:
    if kind == "local":
        return LocalLauncher(parallel, timeout=timeout)
    if kind == "ray":
        # A local Ray started here gets `parallel` CPUs; an existing cluster keeps its own.
        init = {"num_cpus": parallel} if address is None else {}
        return RayLauncher(address=address, timeout=timeout, init_kwargs=init)
    raise ValueError(f"launcher {kind!r}: expected 'local' or 'ray'")
