"""A1111 Prompt Encode vs a float64 re-derivation of A1111's SD1 encoding (``modules/prompt_parser.py``,
``modules/sd_hijack_clip.py``, ``modules/sd_emphasis.py``).

The reference is written here from A1111's rules, independently of ``prompt/`` and the node: hand-parsed segments
(``parse_prompt_attention`` rules: ``(x)`` ×1.1, ``[x]`` ×1/1.1, ``(x:w)`` ×w, BREAK a new chunk), per-segment
tokenization, A1111's chunk loop (``tokenize_line``: 75 tokens, comma backtrack ≤ 20, EOS padding, BOS/EOS wrap), a
float64 CLIP ViT-L text transformer
run on the *same* weights (causal attention, quick-GELU, final LN; CLIP skip N = hidden state −N + final LN), then
emphasis per 77-token chunk over the batch of texts (``sd_emphasis.EmphasisOriginal``). The node runs ComfyUI's float32
encoder.
"""
import math

import pytest
import torch

import comfy.sd

from forgeline.nodes import prompt_encode as pe

BOS, EOS, COMMA = 49406, 49407, 267
TOL = 1e-5


@pytest.fixture(scope="module")
def sd15():
    from forgeline.tests.fixtures.models import ensure_checkpoint
    from forgeline.scripts.comfy_server import MODELS_CACHE

    path = ensure_checkpoint("sd15", MODELS_CACHE / "checkpoints")
    _model, clip, _vae, _ = comfy.sd.load_checkpoint_guess_config(str(path), output_vae=False, output_clip=True)
    # The stand-in's final LN has weight 1 / bias 0, so every output token has mean exactly 0 and Original's
    # mean ratio is 0/0 noise. Give this private copy a trained-looking final LN (real CLIP-L's is not identity).
    norm = clip.cond_stage_model.clip_l.transformer.text_model.final_layer_norm
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        norm.weight.copy_(1 + 0.2 * torch.randn(norm.weight.shape, generator=gen))
        norm.bias.copy_(0.05 + 0.1 * torch.randn(norm.bias.shape, generator=gen))
    return clip


@pytest.fixture(scope="module")
def ref(sd15):
    return Float64ClipL(sd15.cond_stage_model.clip_l.transformer.state_dict())


class Float64ClipL:
    """CLIP ViT-L/14 text transformer (HF ``CLIPTextModel`` maths) in float64 from a state dict."""

    def __init__(self, state):
        self.w = {k: v.double() for k, v in state.items()}
        self.layers = 1 + max(int(k.split(".")[3]) for k in state if ".layers." in k)

    def _ln(self, x, name):
        return torch.nn.functional.layer_norm(x, x.shape[-1:], self.w[name + ".weight"], self.w[name + ".bias"], 1e-5)

    def _lin(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def __call__(self, tokens, clip_skip=1):
        p = "text_model."
        x = self.w[p + "embeddings.token_embedding.weight"][torch.tensor(tokens)]
        x = x + self.w[p + "embeddings.position_embedding.weight"][: x.shape[1]]
        n, heads = x.shape[1], 12
        mask = torch.full((n, n), float("-inf"), dtype=torch.float64).triu(1)
        hidden = [x]
        for i in range(self.layers):
            q = f"{p}encoder.layers.{i}."
            h = self._ln(x, q + "layer_norm1")
            qs, ks, vs = (self._lin(h, q + f"self_attn.{t}_proj") for t in "qkv")
            split = lambda t: t.view(t.shape[0], n, heads, -1).transpose(1, 2)  # noqa: E731
            att = (split(qs) @ split(ks).transpose(-1, -2)) / math.sqrt(qs.shape[-1] // heads) + mask
            o = (att.softmax(-1) @ split(vs)).transpose(1, 2).reshape(x.shape)
            x = x + self._lin(o, q + "self_attn.out_proj")
            h = self._lin(self._ln(x, q + "layer_norm2"), q + "mlp.fc1")
            x = x + self._lin(h * torch.sigmoid(1.702 * h), q + "mlp.fc2")
            hidden.append(x)
        return self._ln(hidden[-clip_skip], p + "final_layer_norm")


def ref_chunks(segments, tokenizer, backtrack=20):
    """A1111 ``tokenize_line`` chunk loop on hand-parsed ``[(text, weight) | "BREAK"]``."""
    chunks, tokens, weights, last_comma = [], [], [], -1

    def emit():
        nonlocal tokens, weights, last_comma
        pad = 75 - len(tokens)
        chunks.append(([BOS] + tokens + [EOS] * pad + [EOS], [1.0] + weights + [1.0] * pad + [1.0]))
        tokens, weights, last_comma = [], [], -1

    for seg in segments:
        if seg == "BREAK":
            emit()
            continue
        text, weight = seg
        for tok in tokenizer(text.lower(), add_special_tokens=False)["input_ids"]:
            if tok == COMMA:
                last_comma = len(tokens)
            elif backtrack and len(tokens) == 75 and last_comma != -1 and 75 - last_comma <= backtrack:
                moved = tokens[last_comma + 1:], weights[last_comma + 1:]
                del tokens[last_comma + 1:], weights[last_comma + 1:]
                emit()
                tokens, weights = list(moved[0]), list(moved[1])
            if len(tokens) == 75:
                emit()
            tokens.append(tok)
            weights.append(weight)
    if tokens or not chunks:
        emit()
    return chunks


def ref_encode(ref, texts_chunks, emphasis="Original", clip_skip=1):
    """A1111 ``forward`` / ``sd_emphasis``: chunk i of every text in one batch (missing → BOS+76×EOS), emphasis per
    chunk over the batch."""
    k = max(len(c) for c in texts_chunks)
    empty = ([BOS] + [EOS] * 76, [1.0] * 77)
    out = []
    for i in range(k):
        batch = [c[i] if i < len(c) else empty for c in texts_chunks]
        z = ref([t for t, _ in batch], clip_skip)
        w = torch.tensor([m for _, m in batch], dtype=torch.float64).unsqueeze(-1)
        if emphasis in ("Original", "No norm"):
            m0 = z.mean()
            z = z * w
            if emphasis == "Original":
                z = z * (m0 / z.mean())
        out.append(z)
    return torch.cat(out, dim=1)


def node_encode(clip, text, **kw):
    cond, warnings = pe.encode_prompt(clip, text, pe.EncodeOptions(**kw))
    first = [(z, d) for z, d in cond if d["forgeline_schedule"]["mode"] == "first"]
    return first, warnings


def assert_close(actual, expected):
    assert actual.shape == expected.shape
    err = (actual.double() - expected).abs().max().item()
    assert err <= TOL, f"max abs error {err:.3g} > {TOL}"


WEIGHTED = "a (red:1.3) cat, [blue] sky BREAK sunny ((day)), (night:0.8)"
WEIGHTED_SEGMENTS = [("a ", 1.0), ("red", 1.3), (" cat, ", 1.0), ("blue", 1 / 1.1), (" sky", 1.0), "BREAK",
                     ("sunny ", 1.0), ("day", 1.1 * 1.1), (", ", 1.0), ("night", 0.8)]


@pytest.mark.parametrize("emphasis", ["Original", "No norm", "Ignore"])
def test_weights_and_break_equal_float64_reference(sd15, ref, emphasis):
    tok = sd15.tokenizer.clip_l.tokenizer
    expected = ref_encode(ref, [ref_chunks(WEIGHTED_SEGMENTS, tok)], emphasis)
    (entry,), _ = node_encode(sd15, WEIGHTED, emphasis=emphasis)
    assert entry[0].shape == (1, 154, 768)
    assert_close(entry[0], expected)


def test_emphasis_none_tokenizes_brackets_as_text(sd15, ref):
    tok = sd15.tokenizer.clip_l.tokenizer
    expected = ref_encode(ref, [ref_chunks([("a (red:1.3) cat", 1.0)], tok)], "None")
    (entry,), _ = node_encode(sd15, "a (red:1.3) cat", emphasis="None")
    assert_close(entry[0], expected)


def test_clip_skip_2_uses_penultimate_layer_with_final_ln(sd15, ref):
    tok = sd15.tokenizer.clip_l.tokenizer
    expected = ref_encode(ref, [ref_chunks(WEIGHTED_SEGMENTS, tok)], "Original", clip_skip=2)
    (entry,), _ = node_encode(sd15, WEIGHTED, clip_skip=2)
    assert_close(entry[0], expected)
    (last,), _ = node_encode(sd15, WEIGHTED, clip_skip=1)
    assert (last[0] - entry[0]).abs().max() > 1e-3  # the option really changes the layer


@pytest.mark.parametrize("backtrack", [20, 0])
def test_long_prompt_comma_backtrack_equals_reference(sd15, ref, backtrack):
    # 13 × "(one two three four five:1.1)," — 6 tokens per group, commas every 6th token: the 75-token boundary
    # falls inside group 13, so backtrack 20 moves that group's words to chunk 2 and backtrack 0 splits them.
    text = "".join("(one two three four five:1.1)," for _ in range(13))
    segments = [s for _ in range(13) for s in (("one two three four five", 1.1), (",", 1.0))]
    tok = sd15.tokenizer.clip_l.tokenizer
    chunks = ref_chunks(segments, tok, backtrack)
    assert len(chunks) == 2
    first_len = sum(t != EOS for t in chunks[0][0][1:])
    assert first_len == (72 if backtrack else 75)
    (entry,), _ = node_encode(sd15, text, comma_padding_backtrack=backtrack)
    assert_close(entry[0], ref_encode(ref, [chunks]))


def test_schedule_variants_share_one_emphasis_batch(sd15, ref):
    # [(cat:1.5):dog:3] over 6 steps → A1111 texts ['(cat:1.5)', 'dog'] encoded as one batch: the Original mean is
    # taken over both rows, so the "cat" variant differs from encoding it alone.
    tok = sd15.tokenizer.clip_l.tokenizer
    batch = [ref_chunks([("cat", 1.5)], tok), ref_chunks([("dog", 1.0)], tok)]
    expected = ref_encode(ref, batch)
    entries, _ = node_encode(sd15, "[(cat:1.5):dog:3]", steps=6)
    by_call = {d["forgeline_schedule"]["first_call"]: z for z, d in entries}
    assert_close(by_call[0], expected[0:1])
    assert_close(by_call[4], expected[1:2])
    alone = ref_encode(ref, [batch[0]])
    assert (alone - expected[0:1]).abs().max() > 1e-4


def test_and_parts_padded_by_repeating_last_vector(sd15, ref):
    # "short AND <two chunks>": A1111 stack_conds pads the 77-token part with its last vector to 154.
    tok = sd15.tokenizer.clip_l.tokenizer
    entries, _ = node_encode(sd15, "short AND long BREAK text:0.5")
    parts = {d["forgeline_schedule"]["part"]: (z, d) for z, d in entries
             if d["forgeline_schedule"]["first_call"] == 0}
    short = ref_encode(ref, [ref_chunks([("short", 1.0)], tok)])
    assert_close(parts[0][0][:, :77], short)
    assert torch.equal(parts[0][0][:, 77:], parts[0][0][:, 76:77].expand(1, 77, 768))
    long = ref_encode(ref, [ref_chunks([(" long", 1.0), "BREAK", ("text", 1.0)], tok)])
    assert_close(parts[1][0], long)
    assert parts[1][1]["forgeline_schedule"]["weight"] == 0.5
