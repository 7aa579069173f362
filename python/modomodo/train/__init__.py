"""Training: multi-domain GRPO on TRL (`modomodo-train`) and evaluation (`modomodo-eval`).

- `config.py`: the run configuration (YAML + TRL-style flags), validated before any model;
- `models.py`: the tiny Qwen2.5-VL built locally, or a pretrained VLM; vision freezing;
- `warmstart.py`: the cached supervised warm start on gold completions;
- `trainer.py`: the `GRPOTrainer` subclass (sampler, routed rewards, fused loss, logging);
- `evaluate.py`: greedy batched evaluation, In-Score / Out-Score;
- `run.py`: one run start to finish; `cli.py`: the two commands.
"""
