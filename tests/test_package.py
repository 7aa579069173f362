"""The installed wheel has the layout DESIGN.md promises."""

import importlib.metadata
import importlib.util
import subprocess
import sys
from pathlib import Path

import modomodo


def test_version_comes_from_the_extension():
    from modomodo import _core

    assert modomodo.__version__ == _core.__version__
    assert modomodo.__version__.count(".") == 2


def test_package_is_installed_not_the_checkout():
    # The suite runs against the wheel; the checkout's python/ must not be on the path.
    assert "site-packages" in Path(modomodo.__file__).parts


def test_kernels_ship_inside_the_package_and_not_top_level():
    spec = importlib.util.find_spec("modomodo.kernels")
    assert spec is not None and spec.origin is not None
    assert "site-packages" in Path(spec.origin).parts
    # The kernels are real files in the wheel, not links back to a checkout.
    assert not Path(spec.origin).is_symlink()
    # Only files under modomodo/ (and its dist-info) come from our wheel. A top-level
    # `kernels` in site-packages may belong to someone else: transformers >= 5.25 depends on
    # Hugging Face's `kernels` package.
    shipped = importlib.metadata.files("modomodo") or []
    # ("..": the console scripts pip writes to bin/.)
    tops = {f.parts[0] for f in shipped if f.parts[0] != ".." and not f.parts[0].endswith(".dist-info")}
    assert tops == {"modomodo"}, f"the wheel installs top-level {sorted(tops - {'modomodo'})}"


def test_py_typed_and_stub_are_shipped():
    pkg = Path(modomodo.__file__).parent
    assert (pkg / "py.typed").exists()
    assert (pkg / "_core.pyi").exists()


def test_stub_matches_the_built_module():
    # mypy.stubtest imports modomodo._core and compares every name and signature with the
    # hand-kept _core.pyi.
    proc = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "modomodo._core"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
