"""`modomodo-data`: look at domains.

    modomodo-data list                                   # every built-in domain
    modomodo-data show --domain scienceqa                # its spec as YAML, to copy and edit
    modomodo-data preview --domain ground --n 8 --out grid.png

`preview` writes a grid PNG of samples with their questions and gold answers (boxes are
drawn on the image); `--domain` is a built-in name or a YAML spec file, `--source` points
a real-dataset spec at a local copy.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from modomodo.data.builtin import builtin_names, builtin_spec
from modomodo.data.loading import DataError, load_domain, resolve_spec
from modomodo.data.spec import DomainSpec, SpecError
from modomodo.rewards import parse_boxes


def _spec(args: argparse.Namespace) -> DomainSpec:
    spec = resolve_spec(args.domain)
    changes = {}
    for key in ("source", "split", "seed", "image_size"):
        value = getattr(args, key, None)
        if value is not None:
            changes[key] = value
    if getattr(args, "n", None) is not None:
        changes["n"] = args.n
    return spec.replace(**changes) if changes else spec


def _boxes_px(solution: str, coords: str, size: Sequence[int]) -> list[tuple[float, float, float, float]]:
    """The gold boxes in pixels of the image, read as the `iou` reward reads them."""
    # One text in, one list of boxes out.
    return cast(
        list[tuple[float, float, float, float]], parse_boxes(solution, coords=coords, image_size=tuple(size))
    )


def preview(spec: DomainSpec, n: int, out: Path, cols: int = 4) -> Path:
    """Write a grid of the first `n` rows of `spec`: image, question, gold answer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.patches as patches
    import matplotlib.pyplot as plt

    ds = load_domain(spec.replace(n=n))
    n = len(ds)
    cols = max(1, min(cols, n))
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 4.1 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, row in enumerate(ds):
        ax = axes.flat[i]
        ax.imshow(row["image"], interpolation="nearest")
        if spec.answer_kind == "boxes":
            for x1, y1, x2, y2 in _boxes_px(row["solution"], spec.coords, row["image_size"]):
                ax.add_patch(
                    patches.Rectangle(
                        (x1 - 0.5, y1 - 0.5),
                        x2 - x1,
                        y2 - y1,
                        fill=False,
                        edgecolor="white",
                        linestyle="--",
                        linewidth=1.2,
                    )
                )
        question = textwrap.fill(row["question"].replace("\n", " "), 38)
        question = question if len(question) < 240 else question[:237] + "..."
        ax.set_title(question, fontsize=7.5, loc="left")
        answer = textwrap.fill(f"answer: {row['solution']}", 40)
        ax.text(
            0,
            -0.03,
            answer,
            transform=ax.transAxes,
            fontsize=8,
            va="top",
            color="darkgreen",
            family="monospace",
        )
    fig.suptitle(f"{spec.name} ({spec.role}, {spec.answer_kind}; {spec.source})", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _list() -> None:
    rows = []
    for name in builtin_names():
        s = builtin_spec(name)
        rewards = " + ".join(
            f"{r.weight:g}·{r.name}" + (f"({r.options['mode']})" if r.name == "iou" else "")
            for r in s.rewards
        )
        rows.append((name, s.role, s.answer_kind, rewards, s.source, ", ".join(s.skills)))
    widths = [
        max(len(r[k]) for r in rows + [("name", "role", "answer", "rewards", "source", "skills")])
        for k in range(6)
    ]
    header = ("name", "role", "answer", "rewards", "source", "skills")
    for r in [header, *rows]:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="modomodo-data", description="Look at modomodo's domains.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the built-in domains")
    show = sub.add_parser("show", help="print a domain's spec as YAML")
    show.add_argument("--domain", required=True)
    p = sub.add_parser("preview", help="write a grid PNG of samples with questions and answers")
    p.add_argument("--domain", required=True, help="built-in name or YAML spec file")
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--cols", type=int, default=4)
    p.add_argument("--source", help="override the spec's source (e.g. a local copy)")
    p.add_argument("--split")
    p.add_argument("--seed", type=int)
    p.add_argument("--image-size", dest="image_size", type=int)
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            _list()
        elif args.command == "show":
            import yaml

            print(yaml.safe_dump(resolve_spec(args.domain).to_dict(), sort_keys=False), end="")
        else:
            if args.n < 1:
                parser.error(f"--n {args.n} is invalid; expected a positive integer")
            path = preview(_spec(args), args.n, args.out, args.cols)
            print(f"wrote {path}")
    except (SpecError, DataError) as exc:
        print(f"modomodo-data: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
