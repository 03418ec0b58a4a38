"""The study's data bundle: built on a CPU, verified on load, and the only thing a bundled study reads."""

import json
import sys

import pytest
import torch
from safetensors.torch import load_file

from nlp_course.diffusion.study import run_study
from nlp_course.diffusion.study.bundle import (
    build_bundle,
    load_bundle,
    main,
    pack_examples,
    unpack_examples,
)

CORPUS_MODULES = ("gensim", "gensim.test.utils", "gensim.corpora.wikicorpus", "chitchat_dataset", "chatterbot_corpus")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "b"
    build_bundle("smoke", out)
    return out


def test_pack_round_trip_keeps_every_example():
    train = [{"input_ids": [1, 2, 3], "target": [False, True, True]}, {"input_ids": [4], "target": [True]}]
    held = [{"input_ids": [5, 6], "target": [False, True]}]
    packed = pack_examples(train, held)
    assert packed["ids"].dtype == torch.int32 and packed["offsets"].tolist() == [0, 3, 4, 6]
    assert unpack_examples(packed) == (train, held)


def test_bundle_is_small_and_every_sha256_is_checked(bundle):
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert set(manifest["presets"]) == {"smoke"} and manifest["total_bytes"] < 40 * 2**20
    assert {"smoke/windows.safetensors", "smoke/sft.safetensors", "smoke/prompts.json",
            "smoke/tokenizer/tokenizer.json"} <= set(manifest["files"])
    assert manifest["presets"]["smoke"]["report"]["overlap"]["pairs"] == 0
    assert load_bundle(bundle, "smoke")["folder"] == bundle / "smoke"
    with pytest.raises(ValueError, match="holds presets"):
        load_bundle(bundle, "gpu")


def test_tampered_or_stale_bundle_is_refused(bundle, tmp_path):
    import shutil

    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    prompts = copy / "smoke" / "prompts.json"
    prompts.write_text(prompts.read_text().replace("[", "[ ", 1))
    with pytest.raises(ValueError, match="sha256"):
        load_bundle(copy, "smoke")
    shutil.copyfile(bundle / "smoke" / "prompts.json", prompts)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["presets"]["smoke"]["settings"]["vocab_size"] += 1
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="rebuild"):
        load_bundle(copy, "smoke")
    with pytest.raises(FileNotFoundError, match="manifest"):
        load_bundle(tmp_path, "smoke")


def test_bundled_data_stage_reads_no_corpus_and_equals_the_built_one(bundle, tmp_path, monkeypatch):
    run_study("smoke", tmp_path / "built", until="data", quiet=True)  # corpora available: built here
    for name in CORPUS_MODULES:  # now any corpus import fails
        monkeypatch.setitem(sys.modules, name, None)
    run_study("smoke", tmp_path / "bundled", until="data", quiet=True, bundle=bundle)
    a, b = tmp_path / "built" / "data", tmp_path / "bundled" / "data"
    assert torch.equal(load_file(str(a / "windows.safetensors"))["windows"],
                       load_file(str(b / "windows.safetensors"))["windows"])
    assert json.loads((a / "sft.json").read_text()) == json.loads((b / "sft.json").read_text())
    assert json.loads((a / "tokenizer" / "tokenizer.json").read_text()) == json.loads(
        (b / "tokenizer" / "tokenizer.json").read_text())
    done = json.loads((tmp_path / "bundled" / "data" / "done.json").read_text())
    assert done["bundle"] == str(bundle) and done["overlap"]["pairs"] == 0


def test_cli_refuses_to_replace_a_folder_that_is_not_a_bundle(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["--preset", "smoke", "--out", str(tmp_path)]) == 2
    assert "not a bundle" in capsys.readouterr().err and (tmp_path / "keep.txt").exists()
