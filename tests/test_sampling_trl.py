"""The TRL drop-in: a GRPOTrainer with MixtureSamplerMixin draws its prompts from the
MixtureSampler, in RepeatSampler's layout, on a tiny local model."""

from collections import Counter

import pytest

pytest.importorskip("trl")

from datasets import Dataset
from trl import GRPOConfig

from modomodo.sampling import MixtureGRPOTrainer, MixtureSampler
from modomodo.tiny import build_tokenizer, tiny_text_model

DOMAINS = {"sqa": 12, "geo": 10, "coco": 6}


def dataset():
    rows = [(d, i) for d, n in DOMAINS.items() for i in range(n)]
    return Dataset.from_dict(
        {
            "prompt": [[{"role": "user", "content": f"[{d}] question {i}"}] for d, i in rows],
            "domain": [d for d, _ in rows],
            "idx": list(range(len(rows))),
        }
    )


def run(tmp_path, weights, *, max_steps, on_exhausted="reshuffle"):
    seen: list[list[int]] = []

    def record(prompts, completions, idx, domain, **kwargs):
        seen.append(list(idx))
        return [float(len(c) % 3) for c in completions]

    tok = build_tokenizer()
    args = GRPOConfig(
        output_dir=str(tmp_path),
        use_cpu=True,
        max_steps=max_steps,
        per_device_train_batch_size=4,
        gradient_accumulation_steps=2,  # steps_per_generation = 2: each generation feeds 2 steps
        num_generations=2,
        max_completion_length=4,
        learning_rate=1e-3,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        bf16=False,
        seed=3,
    )
    trainer = MixtureGRPOTrainer(
        model=tiny_text_model(tok, seed=0),
        reward_funcs=[record],
        args=args,
        train_dataset=dataset(),
        processing_class=tok,
        mixture_weights=weights,
        on_exhausted=on_exhausted,
    )
    trainer.train()
    return trainer, seen


def test_the_trainer_consumes_the_mixture_stream(tmp_path):
    weights = {"sqa": 0.6, "geo": 0.4}  # coco: weight 0, never drawn
    trainer, seen = run(tmp_path, weights, max_steps=4)
    sampler = trainer.mixture_sampler
    assert trainer._get_train_sampler() is sampler
    # RepeatSampler's layout: chunks of generation_batch_size / num_generations = 4 draws,
    # each twice in a row, each chunk yielded num_iterations × steps_per_generation = 2 times.
    assert (sampler.batch_size, sampler.num_generations, sampler.repeat_count) == (4, 2, 2)

    # 4 optimizer steps × 2 accumulation steps = 8 batches = 4 chunks = 4 generations, each
    # scored on the first copy of its chunk, in the sampler's order.
    expected = MixtureSampler(DOMAINS, weights, seed=3, num_generations=2, batch_size=4, repeat_count=2)
    chunks = expected.draw(4 * 16).reshape(4, 16)
    assert seen == [chunk[:8].tolist() for chunk in chunks]

    drawn = Counter(trainer.train_dataset[i]["domain"] for group in seen for i in group[::2])
    print("per-domain prompts drawn by the trainer:", dict(drawn), "sampler counts:", sampler.domain_counts)
    assert set(drawn) == {"sqa", "geo"}
    # The sampler's counts include what the DataLoader prefetched beyond the last step.
    assert all(sampler.domain_counts[d] >= n for d, n in drawn.items())
    assert sampler.domain_counts["coco"] == 0
    logged = [e for e in trainer.state.log_history if "domain/sqa/draws" in e]
    assert len(logged) == 4 and logged[-1]["domain/coco/draws"] == 0.0
    # The logged draws are the prompts the trainer generated for, prefetched ones left out.
    assert {d: logged[-1][f"domain/{d}/draws"] for d in DOMAINS} == {"coco": 0, **drawn}

    # Hugging Face's Trainer calls set_epoch through Accelerate's wrappers on every epoch;
    # that is what makes its resume (fresh sampler, set_epoch, skip batches) replay the stream.
    loader = trainer.get_train_dataloader()
    loader.set_epoch(sampler.epoch + 2)
    assert sampler.epoch == 2


def test_stop_ends_training_when_a_domain_runs_out(tmp_path):
    # coco (6 rows) at weight 0.5 runs out after about 12 draws; the chunks are 4 draws.
    weights = {"sqa": 0.25, "geo": 0.25, "coco": 0.5}
    planned = MixtureSampler(
        DOMAINS, weights, seed=3, num_generations=2, batch_size=4, repeat_count=2, on_exhausted="stop"
    )
    chunks = len(planned) // 16
    trainer, seen = run(tmp_path, weights, max_steps=50, on_exhausted="stop")
    assert 1 <= chunks < 50 and len(seen) == chunks
    assert trainer.state.global_step == chunks  # one chunk = 2 batches = one optimizer step
    drawn = Counter(trainer.train_dataset[i]["domain"] for group in seen for i in group[::2])
    print("per-domain prompts drawn before coco ran out:", dict(drawn))
    assert drawn["coco"] <= DOMAINS["coco"] and trainer.mixture_sampler.exhausted
