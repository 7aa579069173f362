"""Pretraining the shipped base model `tiny-base` (scripts/pretrain_base.py).

- `modomodo.pretrain.rows`: the generic rows it learns from (seeing, reading, speaking),
  drawn fresh from the synthetic world, never in a task format of the synthetic suite;
- `modomodo.pretrain.train`: the recipe, the model built from scratch, the training loop
  and the held-out probes.
"""
