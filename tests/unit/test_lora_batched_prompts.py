"""Batched conditioning (prompt/batch_rows.py): per-image prompt editing by refining the images' call ranges
(A1111 ``reconstruct_cond_batch`` per batch row), contexts of other lengths repeated to the lcm (ComfyUI
``CONDCrossAttn.concat``), stock percent ranges intersected, AND refused naming the line; line splitting rules."""
import pytest
import torch

from forgeline.prompt.batch_rows import BatchPromptError, batch_conditioning, negative_lines, prompt_lines

KEY = "forgeline_schedule"


def _entry(value, first, last, steps=4, mode="first", length=77, part=0, weight=1.0):
    z = torch.full((1, length, 2), float(value))
    start, end = (first / steps, 1.0 if last is None else min((last + 1) / steps, 1.0)) if mode == "first" \
        else (1.0, 1.0)
    return [z, {"pooled_output": torch.full((1, 3), float(value)), "start_percent": start, "end_percent": end,
                KEY: {"mode": mode, "first_call": first, "last_call": last, "part": part, "weight": weight,
                      "base_steps": steps, "hires_steps": 0}, "forgeline_lora_tags": [{"name": "x"}]}]


def test_each_row_switches_at_its_own_call():
    # line 1: [x:y:1] over 4 steps -> x for calls 0-1, y from 2; line 2: no editing, two chunks (154 tokens)
    line1 = [_entry(1, 0, 1), _entry(2, 2, None), _entry(1, 0, 1, mode="second"), _entry(2, 2, None, mode="second")]
    line2 = [_entry(5, 0, None, length=154), _entry(5, 0, None, mode="second", length=154)]
    line3 = [_entry(7, 0, 2), _entry(8, 3, None), _entry(7, 0, None, mode="second")]
    out = batch_conditioning([line1, line2, line3])
    first = [(e[1][KEY]["first_call"], e[1][KEY]["last_call"], e[0][:, 0, 0].tolist(), e[0].shape[1],
              e[1]["start_percent"], e[1]["end_percent"]) for e in out if e[1][KEY]["mode"] == "first"]
    assert first == [(0, 1, [1.0, 5.0, 7.0], 154, 0.0, 0.5),
                     (2, 2, [2.0, 5.0, 7.0], 154, 0.5, 0.75),
                     (3, None, [2.0, 5.0, 8.0], 154, 0.75, 1.0)]
    second = [(e[1][KEY]["first_call"], e[1][KEY]["last_call"], e[0][:, 0, 0].tolist())
              for e in out if e[1][KEY]["mode"] == "second"]
    assert second == [(0, 1, [1.0, 5.0, 7.0]), (2, None, [2.0, 5.0, 7.0])]
    z = out[0][0]
    assert torch.equal(z[0, :77], z[0, 77:])                     # 77-token row repeated, not padded
    assert out[0][1]["pooled_output"][:, 0].tolist() == [1.0, 5.0, 7.0]
    assert "forgeline_lora_tags" not in out[0][1]                 # tags never travel with the batch


def test_and_and_mismatched_steps_are_refused_naming_the_line():
    ok = [_entry(1, 0, None)]
    with pytest.raises(BatchPromptError, match="line 2: AND"):
        batch_conditioning([ok, [_entry(1, 0, None, part=1)]])
    with pytest.raises(BatchPromptError, match="line 2: AND"):
        batch_conditioning([ok, [_entry(1, 0, None, weight=0.5)]])
    with pytest.raises(BatchPromptError, match="line 2: encoded with other steps"):
        batch_conditioning([ok, [_entry(1, 0, None), _entry(1, 0, None, mode="second")]])


def test_prompt_and_negative_lines():
    assert prompt_lines("a\nb \r\nc\n\n") == ["a", "b", "c"]
    with pytest.raises(BatchPromptError, match="line 2 is empty"):
        prompt_lines("a\n  \nc")
    with pytest.raises(BatchPromptError, match="no prompt"):
        prompt_lines("\n\n")
    assert negative_lines("", 3) == ["", "", ""]
    assert negative_lines("bad\n", 2) == ["bad", "bad"]
    assert negative_lines("x\ny", 2) == ["x", "y"]
    with pytest.raises(BatchPromptError, match="2 lines for 3 prompt lines"):
        negative_lines("x\ny", 3)
