"""`modomodo-data list | show | preview` (called through `modomodo.data.cli.main`)."""

import io

import numpy as np
import yaml
from datasets import Dataset, Features, Value
from datasets import Image as HFImage
from PIL import Image

from modomodo.data import DomainSpec, builtin_names, builtin_spec
from modomodo.data.cli import main


def test_list_names_every_builtin(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["name", "role", "answer", "rewards"]
    assert [line.split()[0] for line in lines[1:]] == builtin_names()
    assert "2·iou(match) + 1·format" in out


def test_show_prints_a_spec_that_loads_back(capsys):
    assert main(["show", "--domain", "scienceqa"]) == 0
    assert DomainSpec.from_dict(yaml.safe_load(capsys.readouterr().out)) == builtin_spec("scienceqa")


def test_preview_writes_a_grid_png(tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["preview", "--domain", "ground", "--n", "6", "--cols", "3", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    img = Image.open(out)
    w, h = img.size
    assert w > h > 300  # 3 columns by 2 rows of panels
    a = np.asarray(img.convert("RGB"))
    assert (a.max(axis=2) < 30).mean() > 0.05  # the black synthetic images are in it


def test_preview_of_a_local_real_dataset_with_norm1000_boxes(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (200, 100), (90, 90, 90)).save(buf, format="PNG")
    path = tmp_path / "coco.parquet"
    Dataset.from_dict(
        {
            "image": [{"bytes": buf.getvalue(), "path": None}],
            "problem": ["Detect every cat."],
            "solution": ["<answer>[{'Position': [100, 100, 500, 900], 'Confidence': 1}]</answer>"],
        },
        features=Features({"image": HFImage(), "problem": Value("string"), "solution": Value("string")}),
    ).to_parquet(str(path))
    out = tmp_path / "coco.png"
    assert main(["preview", "--domain", "coco", "--source", str(path), "--n", "1", "--out", str(out)]) == 0
    assert out.exists()


def test_errors_are_reported_not_raised(tmp_path, capsys):
    assert main(["preview", "--domain", "nonesuch", "--out", str(tmp_path / "x.png")]) == 2
    assert "modomodo-data: error: 'nonesuch' is neither a built-in domain" in capsys.readouterr().err
    assert (
        main(
            [
                "preview",
                "--domain",
                "coco",
                "--source",
                str(tmp_path / "none.parquet"),
                "--out",
                str(tmp_path / "x.png"),
            ]
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
