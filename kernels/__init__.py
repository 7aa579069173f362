"""Triton kernels of modomodo (the one source of truth).

This folder is shipped inside the wheel as `modomodo.kernels`: each file here is
symlinked from `python/modomodo/kernels/` (maturin follows symlinked files, not folders).
"""
