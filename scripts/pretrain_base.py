"""Pretrain the shipped base model `tiny-base` from scratch and write its directory.

    python scripts/pretrain_base.py [--output-dir DIR] [--max-steps N] [--minutes M] [--seed S]
                                    [--init-from STAGE1_DIR] [--set KEY=VALUE ...]

Trains the recipe of `modomodo.pretrain.train.Recipe` on fresh generic rows of the
synthetic world (`modomodo.pretrain.rows`: describing, plain questions, reading options,
copying, seeing then picking; never a training domain's task format nor an OOD question),
then writes into DIR (default: the package's `modomodo/models/tiny_base/`):

    config.json, generation_config.json, model.safetensors   the model (transformers format)
    model.safetensors.sha256                                  the weights' SHA-256 (checked on load)
    tokenizer*.json, processor/preprocessor configs, chat_template
    pretrain.json                                             recipe, losses, probes, evaluation
    MODEL_CARD.md                                             the same, for people

and scores the result on the synthetic benchmarks with modomodo's own evaluation: greedy
and pass@k (k completions sampled at temperature 1 per row; a row's pass@k score is the
best of its k scores). Deterministic at a fixed thread count (default 1): the first steps'
losses are recorded so that a short rerun can be checked against them.

A recipe may come in stages: `--init-from DIR` continues the model a previous run of this
script wrote into DIR (its tokenizer and processor kept, a fresh optimiser and schedule),
and the record names that stage (its command, weights' SHA-256 and record), so that the
card gives the commands that rebuild the weights from scratch.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO / "python" / "modomodo" / "models" / "tiny_base"
RECORDED_STEPS = 20  # losses of the first steps kept in pretrain.json (the reproducibility check)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from modomodo.pretrain.train import PROBES, Recipe

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--output-dir", type=Path, default=DEFAULT_DIR)
    p.add_argument(
        "--max-steps", type=int, default=Recipe().max_steps, help="training steps (sets the schedule)"
    )
    p.add_argument("--minutes", type=float, default=None, help="stop training after this wall time")
    p.add_argument(
        "--stop-after",
        type=int,
        default=None,
        help="stop after this many steps (rerun a run cut by --minutes)",
    )
    p.add_argument("--seed", type=int, default=Recipe().seed)
    p.add_argument(
        "--init-from",
        type=Path,
        default=None,
        metavar="DIR",
        help="continue the model this script wrote into DIR (the recipe's next stage)",
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads (results are exact per count)")
    p.add_argument("--eval-rows", type=int, default=100, help="rows per benchmark (0: no evaluation)")
    p.add_argument("--pass-k", type=int, default=8)
    p.add_argument("--probe-rows", type=int, default=256)
    p.add_argument(
        "--snapshot-every",
        type=int,
        default=0,
        metavar="N",
        help="also write the model every N steps into DIR/snapshots/STEP (as if stopped there)",
    )
    p.add_argument("--snapshot-probe-rows", type=int, default=128, help="rows of each probe per snapshot")
    p.add_argument(
        "--snapshot-probes",
        nargs="+",
        default=["lookup", "match", "lookup_new_form"],
        metavar="PROBE",
        help="the probes of a snapshot (default: the quick text-only ones)",
    )
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="recipe overrides")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.max_steps < 1:
        p.error(f"--max-steps {args.max_steps}: expected at least 1")
    if args.stop_after is not None and args.stop_after < 1:
        p.error(f"--stop-after {args.stop_after}: expected at least 1")
    if args.minutes is not None and args.minutes <= 0:
        p.error(f"--minutes {args.minutes}: expected a positive number")
    unknown = sorted(set(args.snapshot_probes) - set(PROBES))
    if unknown:
        p.error(f"--snapshot-probes {unknown}: expected some of {list(PROBES)}")
    if args.init_from is not None and not (args.init_from / "pretrain.json").is_file():
        p.error(
            f"--init-from {args.init_from}: expected a directory written by this script (with pretrain.json)"
        )
    return args


def stage_of(path: Path) -> dict[str, Any]:
    """What a continued run records about the stage it starts from."""
    from modomodo.train.models import WEIGHTS_FILE, sha256_of

    record = json.loads((path / "pretrain.json").read_text())
    keep = ("command", "rerun", "recipe", "steps", "seconds", "load", "first_losses", "sha256", "init")
    stage = {k: record[k] for k in keep if k in record}
    if sha256_of(path / WEIGHTS_FILE) != record["sha256"]:
        raise ValueError(f"--init-from {path}: its weights do not match the SHA-256 in its pretrain.json")
    return stage


def rebuild_commands(record: dict[str, Any]) -> list[str]:
    """The commands that rebuild a record's weights from scratch, first stage first."""
    stages = []
    while record is not None:
        stages.append(record)
        record = record.get("init")
    commands = []
    for i, stage in enumerate(reversed(stages)):
        cmd = stage["rerun"]
        if i > 0:
            cmd += f" --init-from stage{i}"
        if i < len(stages) - 1:
            cmd += f" --output-dir stage{i + 1} --eval-rows 0"
        commands.append(cmd)
    return commands


# -- evaluation ----------------------------------------------------------------------------------


def sample_completions(model, processor, rows, *, k: int, max_new_tokens: int, batch_size: int = 16) -> list:
    """`k` completions per row sampled at temperature 1 (no top-k/top-p): a list per row."""
    import torch

    from modomodo.train.evaluate import _prompt_texts

    tok = processor.tokenizer
    out: list[list[str]] = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        enc = processor(
            text=_prompt_texts(processor, [r["prompt"] for r in chunk]),
            images=[r["image"] for r in chunk],
            padding=True,
            padding_side="left",
            return_tensors="pt",
        )
        with torch.no_grad():
            ids = model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                do_sample=True,
                temperature=1.0,
                top_k=0,
                top_p=1.0,
                num_return_sequences=k,
                eos_token_id=[tok.eos_token_id],
                pad_token_id=tok.pad_token_id,
            )
        texts = processor.batch_decode(ids[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        out += [texts[i * k : (i + 1) * k] for i in range(len(chunk))]
    return out


def _mean_se(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / max(1, n - 1)
    return mean, math.sqrt(var / n)


def evaluate_base(model, processor, *, rows: int, k: int, seed: int, progress: bool) -> dict[str, Any]:
    """Greedy and pass@k per benchmark of the synthetic suite (its in- and out-of-distribution
    tests, scored as training runs score them) and per training domain (its training rewards,
    format included: the reward GRPO starts from)."""
    import torch
    from tqdm.auto import tqdm

    from modomodo.data import load_domain, synthetic_suite
    from modomodo.rewards.bmas import TokenEmbedder
    from modomodo.train.evaluate import generate_greedy, score_rows

    model.eval()
    torch.manual_seed(seed)
    specs = synthetic_suite(n_train=rows, n_eval=rows)
    embedder = TokenEmbedder(model, processor.tokenizer)  # the caption reward's embeddings
    out: dict[str, Any] = {}
    for spec in tqdm(specs, desc="evaluate base", disable=not progress, dynamic_ncols=True, unit="benchmark"):
        ds = load_domain(spec)
        data = [ds[i] for i in range(len(ds))]
        max_new = 96 if spec.answer_kind == "boxes" else 64
        greedy = score_rows(
            spec,
            data,
            generate_greedy(model, processor, data, batch_size=32, max_new_tokens=max_new),
            embedder=embedder,
        )
        sampled = sample_completions(model, processor, data, k=k, max_new_tokens=max_new)
        flat = score_rows(
            spec, [r for r in data for _ in range(k)], [c for cs in sampled for c in cs], embedder=embedder
        )
        best = [max(flat[i * k : (i + 1) * k]) for i in range(len(data))]
        g, g_se = _mean_se(greedy)
        b, b_se = _mean_se(best)
        out[spec.name] = {
            "role": spec.role,
            "n": len(data),
            "greedy": g,
            "greedy_se": g_se,
            f"pass@{k}": b,
            f"pass@{k}_se": b_se,
        }
    return out


# -- the model card ------------------------------------------------------------------------------


def model_card(record: dict[str, Any]) -> str:
    r = record
    k = r["pass_k"]
    lines = [
        "# tiny-base: the base model of modomodo's synthetic world",
        "",
        "A small Qwen2.5-VL pretrained from scratch on the CPU by `scripts/pretrain_base.py`, trained",
        "to *see, read and speak*: to describe a scene, answer plain questions about it, look a word up",
        "in a list of options, copy a number or a name from its prompt, and answer in",
        "`<think>…</think><answer>…</answer>` when asked to (the probes below say how far it got).",
        "It is not trained on the synthetic suite's",
        "task formats nor on its out-of-distribution questions: those are RL's to teach. Load it with",
        "`model: tiny-base` (offline; the weights are checked against `model.safetensors.sha256`).",
        "",
        "## Recipe",
        "",
        f"- command: `{r['command']}`",
        "- to rebuild these weights from scratch: `" + " && ".join(rebuild_commands(r)) + "`",
        f"- seed {r['recipe']['seed']}, {r['threads']} torch thread(s), torch {r['torch']}, "
        f"transformers {r['transformers']}, {r['machine']}",
        f"- parameters: {r['parameters']:,} ({r['weights_bytes'] / 1e6:.1f} MB of safetensors)",
        f"- steps: {r['steps']} of {r['recipe']['max_steps']} scheduled; wall time {r['seconds'] / 60:.1f} min "
        f"of training ({r['steps'] / r['seconds']:.2f} steps/s), load average {r['load']:.1f}",
        f"- loss: first {RECORDED_STEPS} steps {r['loss_first']:.4f}, last 100 steps {r['loss_last']:.4f}",
        f"- weights SHA-256: `{r['sha256']}`",
        "",
        "```json",
        json.dumps(r["recipe"], indent=1),
        "```",
        "",
    ]
    stage, n = r.get("init"), 1
    while stage is not None:
        lines += [
            f"Continued from an earlier stage (stage {n} back): `{stage['rerun']}`, {stage['steps']} steps, "
            f"{stage['seconds'] / 60:.1f} min at load average {stage['load']:.1f}, weights SHA-256 "
            f"`{stage['sha256']}`, recipe:",
            "",
            "```json",
            json.dumps(stage["recipe"]),
            "```",
            "",
        ]
        stage, n = stage.get("init"), n + 1
    lines += [
        "## Data",
        "",
        "Fresh rows every step, drawn from `modomodo.pretrain.rows` (its docstring lists the kinds and",
        "what is left out): text-only batches (option lookup, reading an option, copying) alternate",
        "with image batches (describing a scene, plain questions, bar colours, seeing then picking an",
        "option in forms other than the attribute domain's). About half the rows carry MoDoMoDo's",
        "reasoning instruction and are answered in the tag format. `match` rows ask for the labels of",
        "several words at once (every answered word is one supervised lookup).",
        "A stage's first `reading_steps` steps are text-only batches: option lookup forms suddenly,",
        "after thousands of steps of reading rows (a phase change), more than a mixed stage gives it;",
        "`text_loss: all` trains text-only batches on their prompts' tokens too, `two_option_steps`",
        "starts with two options per list.",
        "",
        f"## Probes (greedy exact match on {r['probe_rows']} held-out rows each, ± standard error)",
        "",
        "| probe | accuracy |",
        "|---|---|",
    ]
    for name, v in r["probes"].items():
        lines.append(f"| {name} | {v['acc']:.3f} ± {v['se']:.3f} |")
    lines += [
        "",
        "`lookup_new_form` and `see_pick_new_form` use an option form (`A: x; B: y`) never trained on.",
        "",
    ]
    if r.get("evaluation"):
        lines += [
            f"## Synthetic benchmarks ({r['eval_rows']} rows each; mean score ± standard error)",
            "",
            "Scored by `modomodo.train.evaluate.score_rows` (each domain's reward normalised to [0, 1]).",
            f"pass@{k}: {k} completions sampled at temperature 1 per row, the best one counted.",
            "Role `train` rows are the training domains under their training rewards (format included).",
            "",
            f"| benchmark | role | greedy | pass@{k} |",
            "|---|---|---|---|",
        ]
        for name, v in r["evaluation"].items():
            lines.append(
                f"| {name} | {v['role']} | {v['greedy']:.3f} ± {v['greedy_se']:.3f} | "
                f"{v[f'pass@{k}']:.3f} ± {v[f'pass@{k}_se']:.3f} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import os

    import torch
    import transformers

    from modomodo.pretrain import train as T
    from modomodo.train.models import HASH_FILE, WEIGHTS_FILE, sha256_of

    torch.set_num_threads(args.threads)
    recipe = replace(T.recipe_from(args.set), seed=args.seed, max_steps=args.max_steps)
    init = None
    if args.init_from is not None:
        from modomodo.train.models import load_pretrained

        init = stage_of(args.init_from)
        recipe = replace(recipe, shape=T.ModelShape(**init["recipe"]["shape"]))
        model, processor = load_pretrained(str(args.init_from))
    else:
        model, processor = T.build(recipe)
    progress = not args.no_progress

    def write(
        out: Path, result: dict[str, Any], probe_rows: int, probe_names=tuple(T.PROBES)
    ) -> dict[str, Any]:
        """Save the model as it is after `result['steps']` steps into `out`, probe it, record it."""
        load = os.getloadavg()[0]
        losses = result["losses"]
        probes = T.probe(
            model, processor, n=probe_rows, seed=args.seed, image_size=recipe.image_size, names=probe_names
        )
        print(f"probes after {result['steps']} steps:", T.summarize(probes), flush=True)
        out.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out, safe_serialization=True)
        processor.save_pretrained(out)
        weights = out / WEIGHTS_FILE
        digest = sha256_of(weights)
        (out / HASH_FILE).write_text(f"{digest}  {WEIGHTS_FILE}\n")
        record: dict[str, Any] = {
            "command": "python scripts/pretrain_base.py " + " ".join(sys.argv[1:] if argv is None else argv),
            # The same weights without a wall-clock limit (steps cut by --minutes made explicit).
            "rerun": f"python scripts/pretrain_base.py --seed {args.seed} --max-steps {args.max_steps} "
            f"--stop-after {result['steps']}"
            + (" --set " + " ".join(shlex.quote(s) for s in args.set) if args.set else ""),
            "recipe": recipe.to_json(),
            "init": init,
            "threads": args.threads,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "parameters": sum(p.numel() for p in model.parameters()),
            "weights_bytes": weights.stat().st_size,
            "steps": result["steps"],
            "seconds": result["seconds"],
            "load": load,
            "first_losses": losses[:RECORDED_STEPS],
            "loss_first": sum(losses[:RECORDED_STEPS]) / min(RECORDED_STEPS, len(losses)),
            "loss_last": sum(losses[-100:]) / min(100, len(losses)),
            "losses_every_100": losses[::100],
            "sha256": digest,
            "probe_rows": probe_rows,
            "probes": probes,
            "pass_k": args.pass_k,
            "eval_rows": args.eval_rows,
            "evaluation": None,
        }
        (out / "pretrain.json").write_text(json.dumps(record, indent=1) + "\n")
        (out / "MODEL_CARD.md").write_text(model_card(record))
        return record

    out = args.output_dir
    result = T.train(
        model,
        processor,
        recipe,
        max_seconds=args.minutes * 60 if args.minutes is not None else None,
        stop_after=args.stop_after,
        progress=progress,
        on_snapshot=lambda so_far: write(
            out / "snapshots" / str(so_far["steps"]), so_far, args.snapshot_probe_rows, args.snapshot_probes
        ),
        snapshot_every=args.snapshot_every,
    )
    # Written before the (slow) evaluation too, so that the directory is whole at every point.
    record = write(out, result, args.probe_rows)
    digest = record["sha256"]
    if args.eval_rows > 0:
        start = time.perf_counter()
        record["evaluation"] = evaluate_base(
            model, processor, rows=args.eval_rows, k=args.pass_k, seed=args.seed, progress=progress
        )
        record["eval_seconds"] = time.perf_counter() - start
    (out / "pretrain.json").write_text(json.dumps(record, indent=1) + "\n")
    (out / "MODEL_CARD.md").write_text(model_card(record))
    print(
        f"wrote {out} (weights SHA-256 {digest}); {result['steps']} steps in {result['seconds'] / 60:.1f} min"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
