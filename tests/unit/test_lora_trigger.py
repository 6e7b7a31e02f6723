"""Offline trigger-word ranking (the rule in ``lora/trigger_words.py``) on synthetic safetensors files; the Civitai
lookup's failure path against an unreachable loopback port and its disk cache. Expected rankings are derived by hand
from the rule."""
import json
import socket

import torch
from safetensors.torch import save_file

from forgeline.lora import trigger_words


def make_lora(tmp_path, metadata, name="style"):
    path = tmp_path / f"{name}.safetensors"
    save_file({"lora_unet_x.lora_down.weight": torch.zeros(2, 4)}, str(path), metadata=metadata)
    return path


def test_modelspec_trigger_phrase_wins(tmp_path):
    path = make_lora(tmp_path, {"modelspec.trigger_phrase": "sks dog, red collar",
                                "ss_tag_frequency": json.dumps({"1_x": {"other": 3}})})
    (tmp_path / "style.civitai.info").write_text(json.dumps({"trainedWords": ["civ"]}))
    assert trigger_words(path) == [("sks dog", "modelspec", 1.0), ("red collar", "modelspec", 1.0)]


def test_sidecars_in_order_civitai_info_then_txt(tmp_path):
    path = make_lora(tmp_path, {"ss_output_name": "style"})
    (tmp_path / "style.txt").write_text("txtword, second\n")
    assert trigger_words(path) == [("txtword", "sidecar.txt", 1.0), ("second", "sidecar.txt", 1.0)]
    (tmp_path / "style.civitai.info").write_text(json.dumps({"trainedWords": ["pixelart", "8bit"]}))
    assert [w for w, _, _ in trigger_words(path)] == ["pixelart", "8bit"]


def test_tag_frequency_normalised_per_image_with_dir_token_and_stop_list(tmp_path):
    meta = {
        "ss_output_name": "other_v1",
        "ss_tag_frequency": json.dumps({"10_sks woman": {"sks woman": 20, "1girl": 20, "smile": 5, "red hair": 18}}),
        "ss_dataset_dirs": json.dumps({"10_sks woman": {"n_repeats": 10, "img_count": 20}}),
    }
    path = make_lora(tmp_path, meta)
    # dir token 1.5; red hair 18/20 = 0.9; 1girl 20/20·0.25 (stop list); smile 5/20·0.25 (stop list) = 0.0625;
    # the tag "sks woman" duplicates the dir token and is dropped.
    assert trigger_words(path) == [("sks woman", "dataset_dir", 1.5), ("red hair", "ss_tag_frequency", 0.9),
                                   ("1girl", "ss_tag_frequency", 0.25), ("smile", "ss_tag_frequency", 0.0625)]
    assert len(trigger_words(path, top_n=2)) == 2


def test_output_name_overlap_up_ranks_and_missing_img_count_uses_max(tmp_path):
    meta = {"ss_output_name": "ghibli_style_v2",
            "ss_tag_frequency": json.dumps({"imgs": {"landscape": 10, "ghibli": 5}})}
    # no img_count: denominator = 10 → landscape 1.0, ghibli 0.5 + 0.5 overlap = 1.0 (stable order keeps landscape)
    assert trigger_words(make_lora(tmp_path, meta)) == [("landscape", "ss_tag_frequency", 1.0),
                                                        ("ghibli", "ss_tag_frequency", 1.0)]


def test_caption_style_dataset_split_into_words(tmp_path):
    captions = {"a photo of zxq cat sitting on a sofa": 4, "a close photo of zxq cat in the garden": 4}
    meta = {"ss_tag_frequency": json.dumps({"4_data": captions}),
            "ss_dataset_dirs": json.dumps({"4_data": {"img_count": 8}})}
    ranked = dict((w, s) for w, _, s in trigger_words(make_lora(tmp_path, meta)))
    assert ranked["zxq"] == 1.0 and ranked["cat"] == 1.0 and ranked["photo"] == 1.0
    assert ranked["sofa"] == 0.5 and "a" not in ranked and "of" not in ranked


def test_no_sources_gives_empty_list(tmp_path):
    assert trigger_words(make_lora(tmp_path, {})) == []


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]






