"""The hub presets (the notes' RuModernBERT / mmBERT / ettin runs) work end to end, offline.

Each preset's architecture (ModernBERT) is built as a tiny random twin saved to a temp folder, and
``datasets.load_dataset`` is replaced by a stand-in that streams records in the real column layouts
-- Tulu 3 SFT (``id``, ``messages``, ``source``) and GrandMaster-PRO-MAX (``source``,
``conversation`` with a system turn, token counts, languages) -- so the preset's own data spec, the
parsing of both layouts, the leak-free split, training and evaluation all run as on a GPU machine,
only tiny. Each test takes under 1 s once the chatterbot corpus and the metrics module are loaded
(their first use in a process costs several seconds, shared with the other diffusion tests).
"""

import json
import re
import shlex
import sys
import types
from pathlib import Path

import pytest
from transformers import AutoModelForMaskedLM

from nlp_course import data as corpora
from nlp_course.diffusion import presets
from nlp_course.diffusion.checkpoint import latest_checkpoint, read_state
from nlp_course.diffusion.cli import build_parser, main
from nlp_course.diffusion.data import load_dialogues, parse_data_spec
from nlp_course.diffusion.models import tiny_config, tiny_tokenizer

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]
TULU, GRANDMASTER = "allenai/tulu-3-sft-mixture", "Vikhrmodels/GrandMaster-PRO-MAX"
HUB = ("hub-rumodernbert", "hub-mmbert", "hub-ettin-1b")
# what every train run below changes from the preset: sizes only (steps, batch, length, data counts)
TINY = ["--max-steps", "2", "--batch-size", "2", "--max-length", "64", "--num-examples", "16",
        "--held-out", "4", "--no-progress"]


def _tulu_records() -> list[dict]:
    pairs = corpora.chatterbot_pairs("english")[:48]
    out = []
    for i, (q, a) in enumerate(pairs):
        messages = [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        if i % 4 == 0:
            messages.insert(0, {"role": "system", "content": "You are a helpful assistant."})
        if i % 3 == 0:  # multi-turn: two assistant turns, two training examples
            messages += [{"role": "user", "content": "Tell me more."}, {"role": "assistant", "content": a + " Indeed."}]
        out.append({"id": f"oasst1_{i}", "messages": messages, "source": "ai2-adapt-dev/oasst1_converted"})
    return out


def _grandmaster_records() -> list[dict]:
    pairs = corpora.chatterbot_pairs("russian")[:48]
    return [{"source": "tulu_ru", "cluster": i % 7, "prompt_lang": "ru", "answer_lang": "ru",
             "prompt_tokens": len(q.split()), "answer_tokens": len(a.split()),
             "conversation": [{"role": "system", "content": "Ты — полезный ассистент."},
                              {"role": "user", "content": q}, {"role": "assistant", "content": a}]}
            for i, (q, a) in enumerate(pairs)]


@pytest.fixture(scope="module")
def records():
    return {TULU: _tulu_records(), GRANDMASTER: _grandmaster_records()}


@pytest.fixture
def hub_datasets(records, monkeypatch):
    """``datasets`` with ``load_dataset`` streaming the records above; ``.calls`` lists the calls."""
    module = types.ModuleType("datasets")
    module.calls = []

    def load_dataset(name, split=None, streaming=False):
        module.calls.append((name, split, streaming))
        if name not in records:
            raise FileNotFoundError(f"Dataset {name!r} doesn't exist on the Hub")
        return iter(records[name])

    module.load_dataset = load_dataset
    monkeypatch.setitem(sys.modules, "datasets", module)
    return module


def _tiny_twin(name: str, folder: Path) -> Path:
    """A tiny random model of preset ``name``'s architecture, saved like a hub model."""
    arch = presets.get_preset(name)["architecture"]
    tok = tiny_tokenizer(arch["specials"])
    # the real tokenizers cover Cyrillic (byte-level BPE / SentencePiece); the tiny one gets its letters
    # as they come out of its normaliser (accents stripped: й -> и, ё -> е; two added tokens with one
    # normal form would make the tokenisation depend on hash order)
    norm = tok.backend_tokenizer.normalizer
    tok.add_tokens(sorted({norm.normalize_str(c) for c in "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"}))
    config = tiny_config(arch["model_type"], tok, layers=arch["global_attn_every_n_layers"])
    config.global_attn_every_n_layers = arch["global_attn_every_n_layers"]
    model = AutoModelForMaskedLM.from_config(config)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_hub_presets_are_the_notes_rows():
    models = {n: presets.get_preset(n)["model"] for n in HUB}
    assert models == {"hub-rumodernbert": "deepvk/RuModernBERT-base", "hub-mmbert": "jhu-clsp/mmBERT-base",
                      "hub-ettin-1b": "jhu-clsp/ettin-encoder-1b"}
    for name in HUB:
        p = presets.get_preset(name)
        assert parse_data_spec(p["data"]) == [(TULU, 0.5), (GRANDMASTER, 0.5)]  # 1:1, as in the notes
        assert p["num_examples"] == 750_000 and p["architecture"]["model_type"] == "modernbert"
        assert p["train"]["batch_size"] * p["train"]["grad_accum"] == 64 and p["train"]["max_length"] == 512
        assert name not in presets.PRESETS  # online data: kept out of the offline presets' split tests
    with pytest.raises(ValueError, match="already exists"):
        presets.register_preset("hub-mmbert", presets.get_preset("hub-mmbert"))
    with pytest.raises(ValueError, match="hub-ettin-1b"):
        presets.get_preset("hub-nope")


def test_both_layouts_parse(hub_datasets, records):
    tulu = load_dialogues(TULU)
    assert len(tulu) == 48 and tulu[0][0] == {"role": "system", "content": "You are a helpful assistant."}
    assert [m["role"] for m in tulu[3]] == ["user", "assistant", "user", "assistant"]
    gm = load_dialogues(GRANDMASTER, limit=5)
    assert len(gm) == 5 and gm[1] == records[GRANDMASTER][1]["conversation"]
    assert hub_datasets.calls == [(TULU, "train", True), (GRANDMASTER, "train", True)]
    records[GRANDMASTER][0]["conversation"][1]["role"] = "narrator"
    try:
        with pytest.raises(ValueError, match=r"GrandMaster-PRO-MAX\[0\].*'narrator'"):
            load_dialogues(GRANDMASTER)
    finally:
        records[GRANDMASTER][0]["conversation"][1]["role"] = "user"


@pytest.mark.parametrize("name", HUB)
def test_hub_preset_trains_on_a_tiny_twin(name, hub_datasets, tmp_path, capsys):
    twin = _tiny_twin(name, tmp_path / "twin")
    out = tmp_path / "run"
    assert main(["train", "--preset", name, "--model", str(twin), "--output-dir", str(out), *TINY]) == 0
    report = json.loads(capsys.readouterr().err.strip().splitlines()[-1])["split"]
    assert report["overlap"] == {"answers": 0, "pairs": 0, "held": 4}
    assert sorted(c[0] for c in hub_datasets.calls) == [GRANDMASTER, TULU]
    state = read_state(latest_checkpoint(out))
    meta, config, preset = state["meta"], state["meta"]["config"], presets.get_preset(name)
    assert meta["preset"] == name and meta["data"] == presets.HUB_DATA and meta["base_model"] == str(twin)
    for key in ("lr", "grad_accum", "warmup_steps", "crop_prob", "save_every", "log_every"):
        assert config[key] == preset["train"][key], key  # the preset's own settings, sizes aside
    assert config["max_steps"] == 2 and state["step"] == 2 and meta["loss"] > 0


def test_eval_recomputes_a_hub_runs_split(hub_datasets, tmp_path, capsys):
    twin = _tiny_twin("hub-mmbert", tmp_path / "twin")  # <mask>-style specials, as mmBERT's tokenizer
    out = tmp_path / "run"
    assert main(["train", "--preset", "hub-mmbert", "--model", str(twin), "--output-dir", str(out), *TINY]) == 0
    capsys.readouterr()
    assert main(["eval", "--model", str(out), "--gen-length", "16", "--steps", "16", "--block-length", "16",
                 "--num-prompts", "2", "--n-t", "1", "--output", str(tmp_path / "eval.json")]) == 0
    report = json.loads((tmp_path / "eval.json").read_text())
    settings = report["settings"]
    assert settings["preset"] == "hub-mmbert" and settings["held_out_from"] == "the run's own split"
    assert settings["held_examples"] == 4 and settings["overlap"] == {"answers": 0, "pairs": 0, "held": 4}
    assert report["elbo"]["n_tokens"] > 0 and len(report["samples"]) == 2


def _readme_hub_commands() -> list[list[str]]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The public encoders", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)\n```", section, flags=re.S)
    lines = [line for block in blocks for line in block.replace("\\\n", " ").splitlines()]
    return [shlex.split(line)[3:] for line in lines if line.startswith("python -m nlp_course.diffusion ")]


def test_readme_hub_commands_parse_and_name_every_hub_preset():
    commands = _readme_hub_commands()
    parser = build_parser()
    trained = []
    for argv in commands:
        args = parser.parse_args(argv)
        if args.command == "train":
            trained.append(args.preset)
            assert presets.get_preset(args.preset)["model"]
    assert sorted(trained) == sorted(HUB)
