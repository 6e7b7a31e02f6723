"""A1111's encoding driver without a model: chunks → per-chunk encode → emphasis → concatenation.

Source: A1111 ``modules/sd_hijack_clip.py`` ``forward`` / ``process_tokens``. For texts ``t_1 … t_B`` encoded
together (A1111 encodes all schedule variants of one prompt in one call):

    k = max chunks over the texts;  for i < k:  batch_i = chunk i of every text, or ``empty_chunk()`` if it has none
    z_i, pooled_i = encode_chunk(tokens of batch_i)         [B, 77, C]
    z_i = emphasis(z_i, multipliers of batch_i)             (the mean covers the whole batch_i, ``sd_emphasis.py``)
    z = concat(z_0 … z_{k-1}) along tokens → [B, 77·k, C];  pooled = pooled_0 (first chunk, before emphasis)

With ``pad_token`` set and different from EOS (OpenCLIP: pad 0), every token after the first EOS of each chunk row
is replaced by it before encoding, as A1111 does for SD2/SDXL-G. ``encode_chunk`` is any callable
``LongTensor[B, 77] -> (z, pooled or None)``; with ``pass_fixes=True`` it is called as
``encode_chunk(tokens, fixes)`` where ``fixes[b]`` lists that row's ``PromptChunkFix`` (embedding placements).
"""
import torch

from .chunking import ClipSpecialIds, empty_chunk
from .emphasis import check_emphasis, emphasize_chunk, multipliers_tensor


def encode_chunks(batch_chunks, encode_chunk, emphasis="Original", bos=49406, eos=49407, pad_token=None,
                  chunk_length=75, pass_fixes=False):
    """Encode chunk lists (one per text) as A1111 does; returns ``(z [B, 77·k, C], pooled [B, …] or None)``."""
    check_emphasis(emphasis)
    if not batch_chunks or any(not chunks for chunks in batch_chunks):
        raise ValueError("encode_chunks needs one non-empty chunk list per text (tokenize_line always gives >= 1)")
    ids = ClipSpecialIds(bos, eos, None)
    zs, pooled_first = [], None
    for i in range(max(len(chunks) for chunks in batch_chunks)):
        batch = [chunks[i] if i < len(chunks) else empty_chunk(ids, chunk_length) for chunks in batch_chunks]
        tokens = torch.tensor([chunk.tokens for chunk in batch], dtype=torch.long)
        if pad_token is not None and pad_token != eos:
            for row, chunk in enumerate(batch):
                tokens[row, chunk.tokens.index(eos) + 1:] = pad_token
        if pass_fixes:
            z, pooled = encode_chunk(tokens, [chunk.fixes for chunk in batch])
        else:
            z, pooled = encode_chunk(tokens)
        if i == 0:
            pooled_first = pooled
        zs.append(emphasize_chunk(z, multipliers_tensor([chunk.multipliers for chunk in batch], z.device), emphasis))
    return torch.cat(zs, dim=1), pooled_first

