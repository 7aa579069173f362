"""Shipped training configs: `default.yaml` (the embedded CPU default of `modomodo-train`),
`modomodo_qwen2vl_2b.yaml` (MoDoMoDo's recipe) and `mixed_r1_qwen25vl.yaml` (Mixed-R1's
reward families). `modomodo.train.config.shipped_config(name)` gives a path."""
