"""Emphasis modes and the encoding driver vs a float64 numpy re-derivation of A1111 ``sd_emphasis`` /
``sd_hijack_clip.forward`` (A1111 ``modules/sd_emphasis.py``, ``modules/sd_hijack_clip.py``), with a deterministic fake
text encoder."""
import numpy as np
import pytest
import torch

from forgeline.prompt import PromptChunk, emphasize_chunk, encode_chunks

BOS, EOS = 49406, 49407


def reference_original(z, w):
    """``sd_emphasis.EmphasisOriginal`` on one chunk batch, float64; multipliers pass through float32 first
    (torch.asarray default)."""
    w = np.asarray(w, dtype=np.float32).astype(np.float64)
    m0 = z.mean()
    zw = z * w[..., None]
    return zw * (m0 / zw.mean())


def random_batch(b=3, t=77, c=8, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(0.3, 1.0, size=(b, t, c))
    w = rng.choice([1.0, 1.1, 1 / 1.1, 1.21, 0.5, 1.5730000000000004], size=(b, t))
    return z, w


def test_original_matches_float64_rederivation_with_joint_batch_mean():
    z, w = random_batch()
    got = emphasize_chunk(torch.from_numpy(z), torch.tensor(w), "Original").numpy()
    np.testing.assert_allclose(got, reference_original(z, w), rtol=1e-12, atol=1e-14)
    # the mean covers the whole batch: rows encoded alone give a different result
    alone = emphasize_chunk(torch.from_numpy(z[:1]), torch.tensor(w[:1]), "Original").numpy()
    assert not np.allclose(alone, got[:1], rtol=1e-9, atol=0)
    np.testing.assert_allclose(alone, reference_original(z[:1], w[:1]), rtol=1e-12, atol=1e-14)










# --- encoding driver ------------------------------------------------------------------------------------------
class FakeEncoder:
    """z[b, t] = table[token] + 0.01·t (float64), pooled = z[:, 0] + 1; records every call."""

    def __init__(self, channels=4):
        self.table = torch.from_numpy(np.random.default_rng(5).normal(size=(49408, channels)))
        self.calls = []

    def __call__(self, tokens, fixes=None):
        self.calls.append((tokens.clone(), fixes))
        z = self.table[tokens] + 0.01 * torch.arange(tokens.shape[1], dtype=torch.float64)[None, :, None]
        return z, z[:, 0] + 1


def chunk(content, weights):
    tokens = [BOS] + content + [EOS] * (75 - len(content)) + [EOS]
    return PromptChunk(tokens, [1.0] + weights + [1.0] * (76 - len(weights)), [])


def test_driver_pads_shorter_texts_with_empty_chunks_and_hstacks():
    long_text = [chunk([320] * 75, [1.1] * 75), chunk([321, 322], [1.0, 1.21])]
    short_text = [chunk([323], [0.5])]
    enc = FakeEncoder()
    z, pooled = encode_chunks([long_text, short_text], enc, "Original")
    assert z.shape == (2, 154, 4)
    assert len(enc.calls) == 2
    second_batch = enc.calls[1][0]
    assert second_batch[1].tolist() == [BOS] + [EOS] * 76           # A1111 empty_chunk()
    for i, parts in enumerate([[long_text[0], short_text[0]], [long_text[1], None]]):
        tokens = torch.tensor([p.tokens if p else [BOS] + [EOS] * 76 for p in parts])
        weights = [p.multipliers if p else [1.0] * 77 for p in parts]
        raw, _ = FakeEncoder()(tokens)
        np.testing.assert_allclose(z[:, 77 * i:77 * (i + 1)].numpy(), reference_original(raw.numpy(), weights),
                                   rtol=1e-12, atol=1e-14)
    first_raw, first_pooled = FakeEncoder()(enc.calls[0][0])
    assert torch.equal(pooled, first_pooled)                         # pooled: chunk 0, before emphasis


def test_driver_pad_token_and_fixes():
    text = [chunk([320, 321], [1.0, 1.0])]
    text[0].fixes.append(("fix", 0))
    enc = FakeEncoder()
    encode_chunks([text], enc, "None", pad_token=0, pass_fixes=True)
    tokens, fixes = enc.calls[0]
    assert tokens[0].tolist() == [BOS, 320, 321, EOS] + [0] * 73       # after the first EOS: pad (OpenCLIP)
    assert fixes == [[("fix", 0)]]


def test_driver_rejects_empty_input():
    with pytest.raises(ValueError, match="non-empty chunk list"):
        encode_chunks([[]], FakeEncoder())
