"""Launchers for independent pilot runs: each job is one command line.

The interface is one method, `run(jobs) -> iterator of JobResult` in completion order,
so the loop in `loop.py` does not care where the commands run:
- `LocalLauncher(parallel=N)`: subprocesses on this machine, N at a time;
- `RayLauncher()`: one Ray task per job on an existing Ray cluster (or a local one);
  install with `pip install modomodo[ray]`. The jobs' output directories must be on a
  file system every node sees.
A job's standard output and error go to `<output_dir>/<log_name>`.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
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


def run_job(
    argv: Sequence[str], output_dir: str, log: str, env: Mapping[str, str], timeout: float | None
) -> tuple[int, float, str]:
    """Run one command, its output to `log`. Returns (returncode, seconds, error)."""
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    full_env = {**os.environ, **env}
    try:
        with open(log, "w", encoding="utf-8") as fh:
            proc = subprocess.run(
                list(argv), stdout=fh, stderr=subprocess.STDOUT, env=full_env, timeout=timeout, check=False
            )
        return proc.returncode, time.monotonic() - start, ""
    except FileNotFoundError as exc:
        return 127, time.monotonic() - start, f"command not found: {exc.filename!r} (argv {list(argv)})"
    except subprocess.TimeoutExpired:
        return 124, time.monotonic() - start, f"timed out after {timeout} s"


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


def run_all(launcher: Launcher, jobs: Iterable[Job]) -> list[JobResult]:
    return list(launcher.run(list(jobs)))
