"""Synthetic suite generation speed at 112×112 on one core.

Target: >= 500 samples/s for every domain (`modomodo.data.synthetic.generate`, images
drawn, PNG-encoded and stored in a `datasets.Dataset`). Baselines measured in the same run:

- `pil-blank`: Image.new + one rectangle + PNG encode (Pillow defaults) per sample, nothing
  else: the floor any Pillow-drawn image set pays.
- `datasets-blank`: the same blank images as PIL objects handed to `Dataset.from_dict` with
  an `Image()` column (datasets encodes them itself), plus a prompt string: the naive way to
  build such a dataset.

Printed: samples/s per domain and the ratio to each baseline.

    python benches/bench_synthetic.py [--n 2000] [--size 112]
"""

from __future__ import annotations

import argparse
import io
import os
import time

from PIL import Image, ImageDraw


def rate(fn, n: int, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn(n)
        best = min(best, time.perf_counter() - t)
    return n / best


def pil_blank(n: int, size: int) -> None:
    for _ in range(n):
        img = Image.new("RGB", (size, size))
        ImageDraw.Draw(img).rectangle((size // 4, size // 4, size // 2, size // 2), fill=(255, 0, 0))
        img.save(io.BytesIO(), format="PNG")


def datasets_blank(n: int, size: int) -> None:
    from datasets import Dataset, Features, Value
    from datasets import Image as HFImage

    imgs = []
    for _ in range(n):
        img = Image.new("RGB", (size, size))
        ImageDraw.Draw(img).rectangle((size // 4, size // 4, size // 2, size // 2), fill=(255, 0, 0))
        imgs.append(img)
    Dataset.from_dict(
        {"image": imgs, "prompt": ["q"] * n},
        features=Features({"image": HFImage(), "prompt": Value("string")}),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--size", type=int, default=112)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    from modomodo.data import synthetic as S

    S.generate("ground", 50, image_size=args.size)  # warm-up: imports, fonts
    base_pil = rate(lambda n: pil_blank(n, args.size), args.n)
    base_ds = rate(lambda n: datasets_blank(n, args.size), args.n)
    print(f"{args.n} samples per run, {args.size}x{args.size}, one core, best of 3")
    print(f"baseline pil-blank      {base_pil:8.0f} samples/s")
    print(f"baseline datasets-blank {base_ds:8.0f} samples/s")
    print(f"{'domain':15s} {'samples/s':>10s} {'vs pil-blank':>13s} {'vs datasets-blank':>18s}  >=500/s")
    worst = float("inf")
    for d in S.DOMAINS:
        r = rate(lambda n: S.generate(d, n, seed=0, image_size=args.size), args.n)
        worst = min(worst, r)
        print(f"{d:15s} {r:10.0f} {r / base_pil:12.2f}x {r / base_ds:17.2f}x  {'yes' if r >= 500 else 'NO'}")
    print(
        f"slowest domain: {worst:.0f} samples/s ({worst / base_pil:.2f}x pil-blank, {worst / base_ds:.2f}x datasets-blank); "
        f"target 500/s {'met' if worst >= 500 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
