# Type stubs for the Rust extension module `modomodo._core`. Kept by hand and checked
# against the built module by tests/test_stubs.py (mypy.stubtest). Each section is owned by
# the Rust file named in its header.

__version__: str

# --- rust/python/src/rewards.rs ---------------------------------------------------------

# --- rust/python/src/boxes.rs -----------------------------------------------------------

# --- rust/python/src/sampler.rs ---------------------------------------------------------
