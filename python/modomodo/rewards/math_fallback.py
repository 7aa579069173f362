"""The optional math-verify fallback of `accuracy_reward(kind="math", math_verify=True)`.

The Rust `math` check decides every pair it can (numbers, closed-form LaTeX arithmetic,
identical canonical forms); the pairs it leaves undecided (`x+1` vs `1+x`, sets,
intervals) may be handed to math-verify here.

math-verify can take unbounded time (sympy on `10^{10^{10^{10}}}` does not return), and its
own timeout uses `signal.alarm`, which only works on the main thread. So its timeouts are
disabled and the bound is enforced from outside: the checks run in a worker process
(`python -m modomodo.rewards.math_fallback`, started once and reused), and when the
deadline of a call passes, the call stops waiting, kills a busy worker, and scores the
remaining pairs 0.0. Nothing here uses signals, so it works from any thread, and it never
raises on model output.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import IO

# Longer answers are not sent (they are not short math answers, and a bounded request
# keeps every pipe write below the OS pipe buffer, so a write can never block).
MAX_ANSWER_CHARS = 4000
# A worker still importing after this long is presumed stuck and restarted.
STARTUP_LIMIT = 120.0


def available() -> bool:
    """Whether math-verify is installed (`pip install 'modomodo[math]'`)."""
    return importlib.util.find_spec("math_verify") is not None


def _as_latex(answer: str) -> str:
    # math-verify reads LaTeX inside math delimiters or \boxed{}; bare `x+1` is not read.
    return answer if ("$" in answer or "\\boxed" in answer) else f"${answer}$"


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    """Moves the worker's output lines into a queue (None at end of stream)."""
    try:
        for line in stream:
            lines.put(line.strip())
    except (OSError, ValueError):
        pass
    lines.put(None)


class Worker:
    """A math-verify process answering one `{"id", "gold", "pred"}` request per line."""

    def __init__(self, argv: Sequence[str] | None = None) -> None:
        self.argv = list(argv) if argv is not None else [sys.executable, "-m", __name__]
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._ready = False
        self._started_at = 0.0
        self._next_id = 0

    def _start(self) -> None:
        self._proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self._lines = queue.Queue()
        assert self._proc.stdout is not None
        threading.Thread(target=_pump, args=(self._proc.stdout, self._lines), daemon=True).start()
        self._ready = False
        self._started_at = time.monotonic()

    def close(self) -> None:
        """Kills the worker process (a later call starts a new one)."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def _await(self, wanted: object, deadline: float) -> dict | str | None:
        """The next message equal to `wanted` ("ready") or carrying id `wanted`, or None on
        deadline or worker death. Stale replies of abandoned requests are skipped."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                return None
            if line is None:  # the worker exited
                self.close()
                return None
            if wanted == "ready":
                if line == "ready":
                    return line
                continue
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if isinstance(msg, dict) and msg.get("id") == wanted:
                return msg

    def verify(self, pairs: Sequence[tuple[str, str]], timeout: float) -> list[bool]:
        """math-verify's verdict on each `(gold, pred)` pair, all within `timeout` seconds
        (including starting the worker); pairs not decided in time are False."""
        deadline = time.monotonic() + timeout
        results = [False] * len(pairs)
        if not self._lock.acquire(timeout=max(timeout, 0.0)):
            return results
        try:
            for k, (gold, pred) in enumerate(pairs):
                if len(gold) > MAX_ANSWER_CHARS or len(pred) > MAX_ANSWER_CHARS:
                    continue
                if self._proc is None or self._proc.poll() is not None:
                    self._start()
                if not self._ready:
                    if self._await("ready", deadline) is None:
                        if time.monotonic() - self._started_at > STARTUP_LIMIT:
                            self.close()
                        break  # still importing: keep it starting for the next call
                    self._ready = True
                ident, self._next_id = self._next_id, self._next_id + 1
                request = json.dumps({"id": ident, "gold": _as_latex(gold), "pred": _as_latex(pred)})
                try:
                    assert self._proc is not None and self._proc.stdin is not None
                    self._proc.stdin.write(request + "\n")
                    self._proc.stdin.flush()
                except (OSError, ValueError):
                    self.close()
                    break
                reply = self._await(ident, deadline)
                if not isinstance(reply, dict):
                    self.close()  # busy past the deadline (or dead): kill it
                    break
                results[k] = reply.get("ok") is True
        finally:
            self._lock.release()
        return results


_worker: Worker | None = None
_worker_lock = threading.Lock()


def verify_pairs(pairs: Sequence[tuple[str, str]], timeout: float) -> list[bool]:
    """math-verify on `(gold, pred)` answer pairs in the shared worker, bounded by `timeout`."""
    global _worker
    with _worker_lock:
        if _worker is None:
            _worker = Worker()
            atexit.register(_worker.close)
        worker = _worker
    return worker.verify(pairs, timeout)


def _serve() -> None:
    """The worker's loop: one JSON request per stdin line, one JSON reply per line."""
    import logging

    logging.disable(logging.WARNING)  # math-verify warns that its own timeout is off
    protocol = sys.stdout
    sys.stdout = sys.stderr  # anything the libraries print must not corrupt the protocol
    from math_verify import parse, verify

    protocol.write("ready\n")
    protocol.flush()
    for line in sys.stdin:
        try:
            request = json.loads(line)
            ident = request["id"]
        except (ValueError, KeyError, TypeError):
            continue
        ok = False
        try:
            # timeouts off: they would use signal.alarm; the parent enforces the bound
            gold = parse(request["gold"], parsing_timeout=None)
            pred = parse(request["pred"], parsing_timeout=None)
            ok = bool(verify(gold, pred, timeout_seconds=None))
        except Exception:
            ok = False
        protocol.write(json.dumps({"id": ident, "ok": ok}) + "\n")
        protocol.flush()


if __name__ == "__main__":
    _serve()
