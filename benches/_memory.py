"""Peak CPU memory of one call, for the benchmarks that compare it.

`tracemalloc` does not see torch's allocations and torch has no CPU counterpart of
`torch.cuda.max_memory_allocated`, so the benchmarks read the kernel's own accounting: the
call runs in a fresh Python process (so that nothing an earlier variant freed is reused),
which resets the resident-set high-water mark (`VmHWM`, by writing 5 to
`/proc/self/clear_refs`) just before the call; the figure is `VmHWM` after the call minus the
resident set (`VmRSS`) before it, i.e. the extra RAM the computation touched at its peak
(intermediates, autograd buffers, gradients), malloc overhead included.
"""

from __future__ import annotations


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def peak_rss_growth(fn) -> tuple[object, int | None]:
    """(fn(), peak resident-set growth in bytes during the call). The growth is None when the
    high-water mark could not be reset and an earlier peak (imports) may hide the call's:
    better no number than a wrong one."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        reset = True
    except OSError:
        reset = False
    before = _status_bytes("VmRSS")
    hwm_before = _status_bytes("VmHWM")
    result = fn()
    hwm_after = _status_bytes("VmHWM")
    if not reset and hwm_after <= hwm_before:
        return result, None
    return result, hwm_after - before
