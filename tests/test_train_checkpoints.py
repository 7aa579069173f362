"""The trainer's checkpoints stay resumable while the Trainer prunes older ones: a process killed
right after the pruning (`save_total_limit`) leaves a checkpoint that holds everything a resume
reads, `modomodo_state.json` included."""

import json

import pytest
import transformers.trainer

from modomodo.train.rundir import checkpoint_problem, newest_valid_checkpoint
from modomodo.train.trainer import STATE_FILE, ModomodoGRPOTrainer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")


class Killed(Exception):
    pass


def test_a_kill_right_after_pruning_leaves_a_resumable_checkpoint(tmp_path, monkeypatch):
    from datasets import Dataset
    from trl import GRPOConfig

    from modomodo.tiny import build_tokenizer, tiny_text_model

    real_rotate = transformers.trainer.rotate_checkpoints
    seen = []

    def rotate_then_die(output_dir, **kwargs):
        real_rotate(output_dir, **kwargs)  # checkpoint-1 is deleted here
        seen.append(sorted(p.name for p in tmp_path.glob("checkpoint-*")))
        if len(seen) == 2:
            raise Killed

    monkeypatch.setattr(transformers.trainer, "rotate_checkpoints", rotate_then_die)
    tok = build_tokenizer()
    rows = [("a", i) for i in range(4)] + [("b", i) for i in range(4)]
    dataset = Dataset.from_dict(
        {
            "prompt": [[{"role": "user", "content": f"[{d}] question {i}"}] for d, i in rows],
            "domain": [d for d, _ in rows],
        }
    )

    def length(completions, **kwargs):
        return [float(len(c[0]["content"]) % 3) for c in completions]

    args = GRPOConfig(
        output_dir=str(tmp_path), use_cpu=True, max_steps=3, per_device_train_batch_size=4, num_generations=2,
        max_completion_length=4, logging_steps=1, report_to="none", save_strategy="steps", save_steps=1,
        save_total_limit=1, disable_tqdm=True, seed=1,
    )  # fmt: skip
    trainer = ModomodoGRPOTrainer(
        model=tiny_text_model(tok, seed=0), reward_funcs=[length], args=args, train_dataset=dataset,
        processing_class=tok, mixture_weights={"a": 0.5, "b": 0.5},
    )  # fmt: skip
    with pytest.raises(Killed):
        trainer.train()
    assert seen == [["checkpoint-1"], ["checkpoint-2"]]  # the limit pruned checkpoint-1
    folder, skipped = newest_valid_checkpoint(tmp_path)
    assert folder.name == "checkpoint-2" and not skipped and checkpoint_problem(folder) is None
    state = json.loads((folder / STATE_FILE).read_text())
    assert sum(state["domain_draws"].values()) == 2 * 2  # two steps of two prompts
    assert state["sampler"] == trainer.mixture_sampler.state_dict()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("checkpoint")) == ["checkpoint-2"]
