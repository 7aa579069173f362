"""`load_domain` on tiny local fixtures in each public schema the built-in specs name.

Every fixture is a few generated rows written as parquet / JSON (+ image files) in the
layout of the real dataset; it is loaded through the real code path (`datasets`, Pillow)
with only `source` overridden. No test touches the network.
"""

import io
import json
import logging

import pytest
from datasets import Dataset, Features, List, Value
from datasets import Image as HFImage
from PIL import Image, ImageDraw

from modomodo.data import DataError, DomainSpec, SpecError, builtin_spec, load_domain

UNIFIED = ["image", "prompt", "solution", "domain", "image_size"]


def png(w=64, h=48, colour=(200, 30, 30), fmt="PNG"):
    img = Image.new("RGB", (w, h), (0, 0, 0))
    ImageDraw.Draw(img).rectangle((w // 4, h // 4, w // 2, h // 2), fill=colour)
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def img(w=64, h=48, fmt="PNG"):
    return {"bytes": png(w, h, fmt=fmt), "path": None}


def write_parquet(tmp_path, name, data, features):
    path = tmp_path / f"{name}.parquet"
    Dataset.from_dict(data, features=Features(features)).to_parquet(str(path))
    return path


def check_unified(ds, name, n):
    assert len(ds) == n
    for col in UNIFIED:
        assert col in ds.column_names
    row = ds[0]
    assert row["domain"] == name
    assert isinstance(row["image"], Image.Image)
    assert row["image_size"] == list(row["image"].size)
    (turn,) = row["prompt"]
    assert turn["role"] == "user"
    assert [b["type"] for b in turn["content"]] == ["image", "text"]
    return row


def user_text(row):
    return row["prompt"][0]["content"][1]["text"]


# -- MoDoMoDo training domains --------------------------------------------------------------


def test_coco_visual_rft_schema(tmp_path):
    problem = (
        "Detect all objects belonging to the category 'umbrella' in the image, and provide the bounding boxes "
        "(between 0 and 1000, integer) and confidence (between 0 and 1, with two decimal places).\n"
        "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags."
    )
    path = write_parquet(
        tmp_path,
        "coco",
        {
            "image": [img(640, 480), img(320, 200)],
            "problem": [problem, problem],
            "solution": [
                "<answer>[{'Position': [64, 0, 950, 411], 'Confidence': 1}]</answer>",
                "<answer>[{'Position': [10, 20, 30, 40], 'Confidence': 1}, {'Position': [500, 500, 900, 990], 'Confidence': 1}]</answer>",
            ],
        },
        {"image": HFImage(), "problem": Value("string"), "solution": Value("string")},
    )
    ds = load_domain(builtin_spec("coco", source=str(path)))
    row = check_unified(ds, "coco", 2)
    # norm1000 boxes are checked against [0, 1000], not the 640x480 pixels, and kept as given.
    assert row["solution"] == "[64,0,950,411]"
    assert ds[1]["solution"] == "[[10,20,30,40],[500,500,900,990]]"
    assert user_text(row) == problem  # template `plain`: the problem carries the instruction
    assert ds[0]["src_solution"].startswith("<answer>[{'Position'")  # the original is kept


def test_lisa_visual_rft_json_explodes_and_resizes(tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.jpg").write_bytes(png(800, 400, fmt="JPEG"))
    (tmp_path / "imgs" / "b.png").write_bytes(png(100, 80))
    rows = [
        {
            "image_path": "imgs/a.jpg",
            "instruction": ["what holds the water?", "where would you sit?"],
            "boxes": [[100.0, 40.0, 500.0, 360.0]],
        },
        {"image_path": "imgs/b.png", "instruction": ["the red thing"], "boxes": [[10.5, 20.0, 50.0, 60.0]]},
    ]
    path = tmp_path / "lisa_train.json"
    path.write_text(json.dumps(rows))
    ds = load_domain(builtin_spec("lisa", source=str(path)))
    row = check_unified(ds, "lisa", 3)  # 2 + 1 instructions
    assert [r["question"] for r in ds] == ["what holds the water?", "where would you sit?", "the red thing"]
    assert [r["src_row"] for r in ds] == [0, 0, 1]
    # 800x400 > 640: resized to 640x320 and the pixel box scaled by 0.8 with it.
    assert row["image_size"] == [640, 320] and row["image"].size == (640, 320)
    assert row["solution"] == "[80,32,400,288]"
    assert ds[2]["image_size"] == [100, 80] and ds[2]["solution"] == "[10.5,20,50,60]"
    assert "[x1, y1, x2, y2]" in user_text(row) and "<think>" in user_text(row)


def test_geoqav_keeps_multiple_choice_rows_and_counts_the_rest(tmp_path, caplog):
    path = write_parquet(
        tmp_path,
        "geoqa",
        {
            "image": [img(), img(), img()],
            "problem": ["In circle O, find angle ABC. Choices: A: 30 B: 45 C: 60 D: 90"] * 3,
            "solution": ["<answer>B</answer>", "<answer>145°</answer>", "<answer> (D) </answer>"],
        },
        {"image": HFImage(), "problem": Value("string"), "solution": Value("string")},
    )
    with caplog.at_level(logging.INFO, logger="modomodo.data"):
        ds = load_domain(builtin_spec("geoqav", source=str(path)))
    check_unified(ds, "geoqav", 2)
    assert ds["solution"] == ["B", "D"]
    assert "final answer (option)" in user_text(ds[0])
    assert any("dropped 1 rows whose 'solution' does not match keep_if" in m for m in caplog.messages)


def sat_fixture(tmp_path):
    feats = {
        "image_bytes": List(HFImage()),
        "question": Value("string"),
        "answers": List(Value("string")),
        "question_type": Value("string"),
        "correct_answer": Value("string"),
    }
    data = {
        "image_bytes": [[img()], [img(), img()], [img()]],
        "question": [
            "Is the lamp left or right of the sofa?",
            "Did the camera move left?",
            "Which is closer?",
        ],
        "answers": [["left", "right"], ["yes", "no"], ["chair", "table"]],
        "question_type": ["obj_rel", "ego_movement", "depth"],
        "correct_answer": ["right", "no", "chair"],
    }
    return write_parquet(tmp_path, "sat", data, feats)


def test_sat_schema_drops_two_frame_rows_with_a_count(tmp_path, caplog):
    path = sat_fixture(tmp_path)
    with caplog.at_level(logging.WARNING, logger="modomodo.data"):
        ds = load_domain(builtin_spec("sat", source=str(path)))
    row = check_unified(ds, "sat", 2)
    assert ds["solution"] == ["right", "chair"]
    assert row["question"] == "Is the lamp left or right of the sofa?\nOptions: left, right"
    assert ds["answers"] == [["left", "right"], ["chair", "table"]]  # original columns kept
    assert any("dropped 1 rows with several images" in m for m in caplog.messages)


def test_multi_image_rows_are_an_error_unless_the_spec_says_otherwise(tmp_path):
    path = sat_fixture(tmp_path)
    with pytest.raises(DataError, match=r"domain 'sat', row 1, column 'image_bytes'.*multi_image"):
        load_domain(builtin_spec("sat", source=str(path), multi_image="error"))
    ds = load_domain(builtin_spec("sat", source=str(path), multi_image="first"))
    assert len(ds) == 3


def scienceqa_fixture(tmp_path, answers=(1, 0)):
    feats = {
        "image": HFImage(),
        "question": Value("string"),
        "choices": List(Value("string")),
        "answer": Value("int8"),
        "hint": Value("string"),
        "task": Value("string"),
        "grade": Value("string"),
        "subject": Value("string"),
        "topic": Value("string"),
        "category": Value("string"),
        "skill": Value("string"),
        "lecture": Value("string"),
        "solution": Value("string"),
    }
    data = {
        "image": [img(), img()],
        "question": [
            "In this food chain, the diatom is a producer. Why?",
            "Which animal's feet are adapted for digging?",
        ],
        "choices": [
            ["It eats another organism.", "It makes its own food.", "It eats a consumer."],
            ["mole", "duck"],
        ],
        "answer": list(answers),
        "hint": ["", "Moles dig."],
        "task": ["closed choice"] * 2,
        "grade": ["grade4"] * 2,
        "subject": ["natural science"] * 2,
        "topic": ["biology"] * 2,
        "category": ["food chains"] * 2,
        "skill": ["producers"] * 2,
        "lecture": ["..."] * 2,
        "solution": ["The diatom makes its own food.", "Moles have claws."],
    }
    return write_parquet(tmp_path, "scienceqa", data, feats)


def test_scienceqa_index_answers_become_letters_with_options_in_the_prompt(tmp_path):
    ds = load_domain(builtin_spec("scienceqa", source=str(scienceqa_fixture(tmp_path))))
    row = check_unified(ds, "scienceqa", 2)
    assert ds["solution"] == ["B", "A"]
    assert row["question"] == (
        "In this food chain, the diatom is a producer. Why?\n"
        "A. It eats another organism. B. It makes its own food. C. It eats a consumer."
    )
    assert user_text(row).endswith("final answer (option) in <answer> </answer> tags.")
    # The source's own `solution` (an explanation) is kept, renamed, next to the gold letter.
    assert row["src_solution"] == "The diatom makes its own food." and row["answer"] == 1


def test_mcq_index_out_of_range_names_domain_row_and_value(tmp_path):
    path = scienceqa_fixture(tmp_path, answers=(1, 5))
    with pytest.raises(
        DataError, match=r"domain 'scienceqa', row 1, column 'answer': 5 is invalid; expected an option"
    ):
        load_domain(builtin_spec("scienceqa", source=str(path)))


# -- out-of-distribution benchmarks ---------------------------------------------------------


def test_chartqa_schema(tmp_path, caplog):
    path = write_parquet(
        tmp_path,
        "chartqa",
        {
            "image": [img(), img()],
            "query": ["What is the highest value?", "Is the line rising?"],
            "label": [["21.5"], ["Yes", "yes"]],
            "human_or_machine": [0, 1],
        },
        {
            "image": HFImage(),
            "query": Value("string"),
            "label": List(Value("string")),
            "human_or_machine": Value("int64"),
        },
    )
    with caplog.at_level(logging.WARNING, logger="modomodo.data"):
        ds = load_domain(builtin_spec("chartqa", source=str(path)))
    check_unified(ds, "chartqa", 2)
    assert ds["solution"] == ["21.5", "Yes"]
    assert any("1 rows with several gold answers" in m for m in caplog.messages)


def test_infovqa_schema(tmp_path):
    path = write_parquet(
        tmp_path,
        "infovqa",
        {
            "questionId": ["65718"],
            "question": ["What percentage of people use email?"],
            "answers": [["78%", "78"]],
            "answer_type": [["single span"]],
            "image": [img(90, 200)],
            "image_url": ["x.jpeg"],
            "operation/reasoning": [[]],
            "ocr": ["{}"],
            "data_split": ["val"],
        },
        {
            "questionId": Value("string"),
            "question": Value("string"),
            "answers": List(Value("string")),
            "answer_type": List(Value("string")),
            "image": HFImage(),
            "image_url": Value("string"),
            "operation/reasoning": List(Value("string")),
            "ocr": Value("string"),
            "data_split": Value("string"),
        },
    )
    ds = load_domain(builtin_spec("infovqa", source=str(path)))
    row = check_unified(ds, "infovqa", 1)
    assert row["solution"] == "78%" and row["answers"] == ["78%", "78"] and row["image_size"] == [90, 200]


def test_mathvista_schema_letters_for_choices_numbers_for_free_form(tmp_path):
    meta = {
        "category": "math-targeted-vqa",
        "context": "geometry diagram",
        "grade": "high school",
        "img_height": 48,
        "img_width": 64,
        "language": "english",
        "skills": ["geometry reasoning"],
        "source": "GeoQA+",
        "split": "testmini",
        "task": "geometry problem solving",
    }
    path = write_parquet(
        tmp_path,
        "mathvista",
        {
            "pid": ["1", "2"],
            "question": ["Find the angle.", "How many dots?"],
            "image": ["images/1.jpg", "images/2.jpg"],
            "decoded_image": [img(), img()],
            "choices": [["30°", "60°", "90°"], None],
            "unit": [None, None],
            "precision": [None, None],
            "answer": ["60°", "7"],
            "question_type": ["multi_choice", "free_form"],
            "answer_type": ["text", "integer"],
            "metadata": [meta, meta],
            "query": ["...", "..."],
        },
        {
            "pid": Value("string"),
            "question": Value("string"),
            "image": Value("string"),
            "decoded_image": HFImage(),
            "choices": List(Value("string")),
            "unit": Value("string"),
            "precision": Value("float64"),
            "answer": Value("string"),
            "question_type": Value("string"),
            "answer_type": Value("string"),
            "metadata": {
                "category": Value("string"),
                "context": Value("string"),
                "grade": Value("string"),
                "img_height": Value("int64"),
                "img_width": Value("int64"),
                "language": Value("string"),
                "skills": List(Value("string")),
                "source": Value("string"),
                "split": Value("string"),
                "task": Value("string"),
            },
            "query": Value("string"),
        },
    )
    ds = load_domain(builtin_spec("mathvista", source=str(path)))
    check_unified(ds, "mathvista", 2)
    assert ds["solution"] == ["B", "7"]
    assert ds[0]["question"] == "Find the angle.\nA. 30° B. 60° C. 90°"
    assert ds[1]["question"] == "How many dots?"
    assert ds[0]["src_image"] == "images/1.jpg"  # the path column collides with `image`


def test_mmmu_schema_options_text_and_extra_image_columns(tmp_path):
    feats = {
        "id": Value("string"),
        "question": Value("string"),
        "options": Value("string"),
        "explanation": Value("string"),
        **{f"image_{k}": HFImage() for k in range(1, 8)},
        "img_type": Value("string"),
        "answer": Value("string"),
        "topic_difficulty": Value("string"),
        "question_type": Value("string"),
        "subfield": Value("string"),
    }
    none7 = {f"image_{k}": [None, None] for k in range(2, 8)}
    path = write_parquet(
        tmp_path,
        "mmmu",
        {
            "id": ["validation_Art_1", "validation_Math_2"],
            "question": ["<image 1> Which style?", "<image 1> x = ?"],
            "options": ["['Baroque', 'Gothic', 'Rococo']", "[]"],
            "explanation": ["", ""],
            "image_1": [img(), img()],
            **none7,
            "img_type": ["['Paintings']", "['Diagrams']"],
            "answer": ["C", "12"],
            "topic_difficulty": ["Easy", "Hard"],
            "question_type": ["multiple-choice", "open"],
            "subfield": ["Art History", "Algebra"],
        },
        feats,
    )
    ds = load_domain(builtin_spec("mmmu", source=str(path)))
    check_unified(ds, "mmmu", 2)
    assert ds["solution"] == ["C", "12"]
    assert ds[0]["question"] == "<image 1> Which style?\nA. Baroque B. Gothic C. Rococo"
    assert not [c for c in ds.column_names if c.startswith("image_") and c != "image_size"]


# -- Mixed-R1 kinds (assumed image/problem/solution layout) ----------------------------------


@pytest.mark.parametrize(
    "name,solution,expected",
    [
        ("mixed_r1_yesno", "Yes.", "yes"),
        ("mixed_r1_mcq", "<answer>(C)</answer>", "C"),
        ("mixed_r1_chart", "<answer>1,234</answer>", "1,234"),
        ("mixed_r1_grounding", '{"bbox_2d": [4, 5, 30, 40]}', "[4,5,30,40]"),
        ("mixed_r1_caption", "A dog runs on the grass.", "A dog runs on the grass."),
    ],
)
def test_mixed_r1_kinds(tmp_path, name, solution, expected):
    (tmp_path / "im.png").write_bytes(png())
    path = tmp_path / f"{name}.jsonl"
    path.write_text(
        json.dumps({"image": "im.png", "problem": "Look at the image.", "solution": solution}) + "\n"
    )
    ds = load_domain(builtin_spec(name, source=str(path)))
    row = check_unified(ds, name, 1)
    assert row["solution"] == expected


# -- bad input ------------------------------------------------------------------------------


def test_mapping_to_a_missing_column_names_domain_column_and_the_columns_there_are(tmp_path):
    path = write_parquet(
        tmp_path,
        "x",
        {"image": [img()], "query": ["q"], "label": [["1"]]},
        {"image": HFImage(), "query": Value("string"), "label": List(Value("string"))},
    )
    with pytest.raises(
        DataError,
        match=r"domain 'chartqa': question maps to column 'question'.*\['image', 'query', 'label'\]",
    ):
        load_domain(
            builtin_spec(
                "chartqa",
                source=str(path),
                columns={"image": "image", "question": "question", "solution": "label"},
            )
        )


def test_undecodable_image_names_domain_row_and_value(tmp_path):
    (tmp_path / "ok.png").write_bytes(png())
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    path = tmp_path / "d.jsonl"
    path.write_text(
        "".join(
            json.dumps({"image": f, "problem": "q", "solution": "yes"}) + "\n"
            for f in ["ok.png", "broken.png"]
        )
    )
    with pytest.raises(
        DataError,
        match=r"domain 'mixed_r1_yesno', row 1, column 'image': 'broken.png' is invalid; expected an image Pillow can decode",
    ):
        load_domain(builtin_spec("mixed_r1_yesno", source=str(path)))


def test_missing_image_file_is_a_row_error(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"image": "nowhere.png", "problem": "q", "solution": "yes"}) + "\n")
    with pytest.raises(
        DataError, match=r"row 0, column 'image': 'nowhere.png' is invalid; expected a readable image file"
    ):
        load_domain(builtin_spec("mixed_r1_yesno", source=str(path)))


def test_box_outside_its_image_names_domain_row_and_box(tmp_path):
    (tmp_path / "im.png").write_bytes(png(64, 48))
    path = tmp_path / "g.jsonl"
    rows = [
        {"image": "im.png", "problem": "q", "solution": "[1, 2, 30, 40]"},
        {"image": "im.png", "problem": "q", "solution": "[10, 10, 70, 40]"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(
        DataError,
        match=r"domain 'mixed_r1_grounding', row 1, column 'solution': \[10, 10, 70, 40\] is invalid; expected a box inside the image.*64x48",
    ):
        load_domain(builtin_spec("mixed_r1_grounding", source=str(path)))
    ds = load_domain(builtin_spec("mixed_r1_grounding", source=str(path), clip_boxes=True))
    assert ds["solution"] == ["[1,2,30,40]", "[10,10,64,40]"]


@pytest.mark.parametrize(
    "kind,value", [("yesno", "maybe"), ("numeric", "many"), ("count", "2.5"), ("mcq", "Z")]
)
def test_gold_answers_not_of_the_spec_kind_are_row_errors(tmp_path, kind, value):
    (tmp_path / "im.png").write_bytes(png())
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"image": "im.png", "problem": "q", "solution": value}) + "\n")
    spec = DomainSpec(
        name="d",
        source=str(path),
        answer_kind=kind,
        rewards=[{"name": "accuracy"}],
        columns={"image": "image", "question": "problem", "solution": "solution"},
    )
    with pytest.raises(DataError, match=rf"domain 'd', row 0, column 'solution': '{value}' is invalid"):
        load_domain(spec)


def test_unknown_local_source_and_unknown_names_are_clear(tmp_path):
    with pytest.raises(DataError, match=r"domain 'coco': source '.*missing.parquet' does not exist"):
        load_domain(builtin_spec("coco", source=str(tmp_path / "missing.parquet")))
    with pytest.raises(SpecError, match=r"'nonesuch' is neither a built-in domain"):
        load_domain("nonesuch")


def test_load_from_disk_and_a_yaml_spec(tmp_path):
    Dataset.from_dict(
        {"im": [img()], "q": ["Is it red?"], "a": ["yes"]},
        features=Features({"im": HFImage(), "q": Value("string"), "a": Value("string")}),
    ).save_to_disk(str(tmp_path / "saved"))
    (tmp_path / "d.yaml").write_text(
        f"name: mine\nsource: {tmp_path / 'saved'}\nanswer_kind: yesno\n"
        "columns: {image: im, question: q, solution: a}\nrewards: [{name: accuracy, weight: 2}, {name: format}]\n"
    )
    ds = load_domain(str(tmp_path / "d.yaml"))
    row = check_unified(ds, "mine", 1)
    assert row["solution"] == "yes" and row["question"] == "Is it red?"


def test_malformed_jsonl_row_names_the_file_and_line(tmp_path):
    (tmp_path / "im.png").write_bytes(png())
    path = tmp_path / "d.jsonl"
    good = json.dumps({"image": "im.png", "problem": "q", "solution": "yes"})
    path.write_text(f"{good}\n\n{good}\n" + '{"image": "im.png", "problem": q, "solution": "no"}\n' + good)
    with pytest.raises(
        DataError,
        match=r"domain 'mixed_r1_yesno': '.*d.jsonl' line 4, column 32: not valid JSON \(Expecting value\)",
    ):
        load_domain(builtin_spec("mixed_r1_yesno", source=str(path)))


def test_malformed_json_document_names_the_line(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(
        '[\n  {"image": "im.png", "problem": "q", "solution": "yes"},\n  {"image": "im.png",,}\n]\n'
    )
    with pytest.raises(DataError, match=r"'.*d.json' line 3, column 22: not valid JSON"):
        load_domain(builtin_spec("mixed_r1_yesno", source=str(path)))


@pytest.mark.parametrize(
    "text, message", [("", "is empty; expected rows"), ("\n  \n", "holds only white space")]
)
def test_empty_jsonl_file_is_a_clear_error(tmp_path, text, message):
    path = tmp_path / "d.jsonl"
    path.write_text(text)
    with pytest.raises(DataError, match=rf"domain 'mixed_r1_yesno': source file '.*d.jsonl' {message}"):
        load_domain(builtin_spec("mixed_r1_yesno", source=str(path)))


@pytest.mark.parametrize(
    "gold",
    [
        "[30, 40, 1, 2]",  # corners swapped: read as the reward reads them
        "<box>(1,2),(30,40)</box>",
        "<answer>The box is [1, 2, 30, 40].</answer>",
        '[{"bbox_2d": [1, 2, 30, 40]}, {"bbox_2d": [5, 5, 5, 9]}]',  # the zero-area box is not a box
        [[1, 2, 30, 40], [2, 3, 4, 5]],
        {"box": [1.5, 2.25, 30, 40]},
    ],
)
def test_gold_boxes_are_what_parse_boxes_reads(tmp_path, gold):
    from modomodo.rewards import parse_boxes

    (tmp_path / "im.png").write_bytes(png(64, 48))
    path = tmp_path / "g.jsonl"
    path.write_text(json.dumps({"image": "im.png", "problem": "q", "solution": gold}) + "\n")
    (row,) = load_domain(builtin_spec("mixed_r1_grounding", source=str(path)))
    expected = parse_boxes(gold if isinstance(gold, str) else json.dumps(gold))
    assert parse_boxes(row["solution"]) == expected


def test_a_gold_without_a_box_is_a_row_error(tmp_path):
    (tmp_path / "im.png").write_bytes(png(64, 48))
    path = tmp_path / "g.jsonl"
    path.write_text(json.dumps({"image": "im.png", "problem": "q", "solution": "[0, 0, 0, 5]"}) + "\n")
    with pytest.raises(
        DataError, match=r"row 0, column 'solution': '\[0, 0, 0, 5\]' is invalid; expected boxes"
    ):
        load_domain(builtin_spec("mixed_r1_grounding", source=str(path)))
