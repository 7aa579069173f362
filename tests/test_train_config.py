"""modomodo-train's configuration: YAML + TRL-style flags, validated before any model exists."""

import json

import pytest
import yaml

from modomodo.train import cli
from modomodo.train import run as run_module
from modomodo.train.config import ConfigError, load_config, parse_flags


@pytest.fixture
def no_model(monkeypatch):
    """Fail loudly if anything tries to build or load a model."""

    def boom(*args, **kwargs):
        raise AssertionError("a model was built although the config is invalid")

    monkeypatch.setattr(run_module, "build_model", boom)
    monkeypatch.setattr("modomodo.train.models.build_tiny", boom)
    monkeypatch.setattr("modomodo.train.models.load_pretrained", boom)


def test_flags_override_yaml_and_are_typed(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(
        yaml.safe_dump({"learning_rate": 0.5, "max_steps": 3, "domains": ["detect", "chart"]})
    )
    cfg = load_config(
        cfg_file,
        [
            "--learning-rate",
            "1e-4",
            "--weights",
            "{detect: 3, chart: 1}",
            "--output_dir",
            str(tmp_path / "o"),
            "--freeze_vision",
            "false",
            "--data_engine",
        ],
    )
    assert cfg.grpo["learning_rate"] == 1e-4 and isinstance(cfg.grpo["learning_rate"], float)
    assert cfg.grpo["max_steps"] == 3  # from the YAML, untouched
    assert cfg.mixture_weights() == {"detect": 3.0, "chart": 1.0}
    assert cfg.run.freeze_vision is False and cfg.run.data_engine is True
    assert cfg.train_domains == ["detect", "chart"]
    grpo = cfg.grpo_config()
    assert grpo.learning_rate == 1e-4 and grpo.max_steps == 3


def test_embedded_default_resolves_the_synthetic_suite(tmp_path):
    cfg = load_config(None, ["--output-dir", str(tmp_path / "o")])
    assert cfg.run.model == "tiny" and cfg.run.warmstart_steps > 0
    assert cfg.train_domains == [
        "detect",
        "ground",
        "geometry",
        "spatial",
        "attribute",
        "chart",
        "yesno",
        "caption",
    ]
    roles = {s.name: s.role for s in cfg.eval_specs}
    assert {r for r in roles.values()} == {"in", "out"} and len(roles) == 7
    assert set(cfg.mixture_weights().values()) == {1.0}  # uniform


def test_parse_flags_forms():
    assert parse_flags(["--a", "1", "--b=2", "--c", "--d-e", "x"]) == {
        "a": "1",
        "b": "2",
        "c": True,
        "d_e": "x",
    }
    with pytest.raises(ConfigError, match="unexpected argument 'stray'"):
        parse_flags(["stray"])


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--learnin_rate", "1e-3"],
            r"unknown config key 'learnin_rate' in the command line; did you mean 'learning_rate'",
        ),
        (
            ["--weights", "{detect: 1, nope: 2}"],
            r"'weights' names domain\(s\) \['nope'\] that the config does not define",
        ),
        (
            ["--weights", "{detect: -1, chart: 2}"],
            r"weights\['detect'\]\" = -1 is invalid; expected a finite number >= 0",
        ),
        (["--weights", "{detect: 0, chart: 0}"], r"at least one weight > 0"),
        (
            ["--domains", "[{name: foo, source: 'synthetic:detect', answer_kind: boxes, rewards: []}]"],
            r"domain 'foo': rewards = \[\] is invalid; expected a non-empty list",
        ),
        (["--domains", "[detect, no_such_domain]"], r"unknown built-in domain 'no_such_domain'"),
        (["--loss_backend", "cuda"], r"'loss_backend' = 'cuda' is invalid; expected one of"),
        (["--max_steps", "many"], r"'max_steps' = 'many' is invalid"),
        (["--image_size", "100"], r"'image_size' = 100 is invalid; expected a positive multiple of 28"),
        (["--resume", "--overwrite"], r"'resume' and 'overwrite' are both set"),
    ],
)
def test_bad_config_fails_before_any_model(tmp_path, capsys, no_model, argv, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, ["--output-dir", str(tmp_path / "o"), *argv])
    # The command reports the same error and exits with status 2, without building a model.
    assert cli.train_main(["--output-dir", str(tmp_path / "o"), *argv]) == 2
    assert "modomodo-train: error:" in capsys.readouterr().err


def test_misspelt_key_in_yaml_names_the_file(tmp_path, no_model):
    f = tmp_path / "c.yaml"
    f.write_text("num_generatons: 4\n")
    with pytest.raises(
        ConfigError, match=r"unknown config key 'num_generatons' in .*c\.yaml; did you mean 'num_generations'"
    ):
        load_config(f, ["--output-dir", str(tmp_path / "o")])


def test_output_dir_holding_another_run(tmp_path, no_model):
    out = tmp_path / "o"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    with pytest.raises(
        ConfigError, match=r"holds another run \(summary\.json\); pass --resume .* or --overwrite"
    ):
        load_config(None, ["--output-dir", str(out)])
    # --overwrite accepts it; --resume needs a checkpoint.
    load_config(None, ["--output-dir", str(out), "--overwrite"])
    with pytest.raises(ConfigError, match=r"holds no checkpoint-\* to resume from"):
        load_config(None, ["--output-dir", str(out), "--resume"])
    (out / "checkpoint-3").mkdir()
    assert load_config(None, ["--output-dir", str(out), "--resume"]).run.resume
    # Unrelated files do not make a run.
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("x")
    load_config(None, ["--output-dir", str(other)])


def test_output_dir_is_required(no_model):
    with pytest.raises(ConfigError, match="'output_dir' is missing"):
        load_config(None, [])


def test_a_bare_name_reads_the_shipped_config(tmp_path, monkeypatch, no_model):
    monkeypatch.chdir(tmp_path)  # no file of that name here
    by_name = load_config("modomodo_qwen2vl_2b", ["--output-dir", str(tmp_path / "o")])
    assert by_name.grpo["seed"] == 42 and by_name.grpo["num_generations"] == 6
    with pytest.raises(ConfigError, match="cannot read config file 'no_such_recipe'"):
        load_config("no_such_recipe", ["--output-dir", str(tmp_path / "o")])


@pytest.mark.parametrize("name", ["modomodo_qwen2vl_2b.yaml", "mixed_r1_qwen25vl.yaml"])
def test_shipped_recipes_dry_run(tmp_path, capsys, monkeypatch, no_model, name):
    from modomodo.train.config import shipped_config

    # LISA and Mixed-R1's domains read local files (data/specs/*.yaml), which the dry run
    # checks: one row in their schema stands in for each.
    monkeypatch.chdir(tmp_path)
    row = {"image_path": "a.png", "instruction": ["the cup"], "boxes": [[0, 0, 1, 1]]}
    for f in ("lisa_train.json", "lisa_test.json"):
        (tmp_path / f).write_text(json.dumps([row]))
    (tmp_path / "mixed_r1").mkdir()
    for kind in ("yesno", "mcq", "chart", "grounding", "caption"):
        (tmp_path / "mixed_r1" / f"{kind}.jsonl").write_text(
            json.dumps({"image": "a.png", "problem": "?", "solution": "yes"}) + "\n"
        )
    path = shipped_config(name)
    assert cli.train_main(["--config", str(path), "--output-dir", str(tmp_path / "o"), "--dry-run"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status"].startswith("ok")
    assert report["model"].startswith("Qwen/")
    assert "ModomodoGRPOTrainer" in report["trainer"]
    assert not (tmp_path / "o").exists()  # a dry run writes nothing
    if name.startswith("modomodo"):
        # MoDoMoDo's recipe (data/modomodo_paper.md).
        assert sorted(report["train_domains"]) == ["coco", "geoqav", "lisa", "sat", "scienceqa"]
        assert set(report["weights"].values()) == {1.0}
        g = report["grpo"]
        assert (g["beta"], g["num_generations"], g["learning_rate"], g["seed"], g["max_steps"]) == (
            0.04,
            6,
            1e-6,
            42,
            2000,
        )
        assert g["per_device_train_batch_size"] == 12 and g["gradient_accumulation_steps"] == 2
        assert report["eval_domains"] == {
            "lisa_test": "in",
            "sat_test": "in",
            "scienceqa_test": "in",
            "chartqa": "out",
            "infovqa": "out",
            "mathvista": "out",
            "mmmu": "out",
        }
        coco = report["train_domains"]["coco"]["rewards"]
        assert {r["name"]: r["weight"] for r in coco} == {"iou": 2.0, "format": 1.0}
    else:
        kinds = {r["name"] for d in report["train_domains"].values() for r in d["rewards"]}
        assert {"accuracy", "chart", "iou", "bmas"} <= kinds


def test_dry_run_checks_local_data(tmp_path, capsys, no_model):
    """Every local data path exists and holds the columns its spec maps (first rows only);
    each problem is reported once, all of them in one error."""
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"image": "a.png", "problem": "Is it red?", "solution": "yes"}) + "\n")
    renamed = tmp_path / "renamed.jsonl"
    renamed.write_text(json.dumps({"img": "a.png", "problem": "Is it red?", "answer": "yes"}) + "\n")
    domains = (
        f"[{{builtin: mixed_r1_yesno, source: {good}}}, "
        f"{{builtin: mixed_r1_mcq, source: {tmp_path / 'missing.jsonl'}}}, "
        f"{{builtin: mixed_r1_chart, source: {renamed}}}]"
    )
    argv = [
        "--output-dir",
        str(tmp_path / "o"),
        "--model",
        "some/model",
        "--domains",
        domains,
        "--eval",
        "false",
        "--warmstart_steps",
        "0",
    ]
    assert cli.train_main([*argv, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("missing.jsonl' does not exist") == 1 and "domain 'mixed_r1_mcq'" in err
    assert "domain 'mixed_r1_chart': column(s) ['image', 'solution'] mapped by the spec are not in" in err
    assert err.count("mixed_r1_chart") == 1 and "mixed_r1_yesno" not in err
    assert not (tmp_path / "o").exists()
    # The same config with the data in place passes.
    renamed.write_text(good.read_text())
    (tmp_path / "missing.jsonl").write_text(good.read_text())
    assert cli.train_main([*argv, "--dry-run"]) == 0


def test_dry_run_warns_about_the_loss_backend_once(tmp_path, capsys, caplog, no_model):
    # Entropy masking is one of the settings grpo_loss still leaves to TRL.
    argv = ["--output-dir", str(tmp_path / "o"), "--top_entropy_quantile", "0.5", "--dry-run"]
    with caplog.at_level("WARNING", logger="modomodo"):
        assert cli.train_main(argv) == 0
    assert json.loads(capsys.readouterr().out)["loss_backend"] == "trl"
    assert caplog.text.count("loss_backend auto: TRL's own loss (top_entropy_quantile=0.5") == 1
