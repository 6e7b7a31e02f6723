"""A1111 ``tokenize_line``: 75-token chunks, BREAK, comma backtrack, per-token multipliers.

Source: A1111 ``modules/sd_hijack_clip.py`` ``FrozenCLIPEmbedderWithCustomWordsBase.tokenize_line``.

1. Parse the line with ``parse_prompt_attention`` (emphasis ``"None"``: the whole line is one segment, weight 1.0,
   brackets and BREAK literal). Tokenize every segment on its own, after A1111's text clean-up, without special
   tokens, so no BPE merge crosses an emphasis boundary.
2. A real BREAK marker (``["BREAK", -1]``) emits the current chunk, even an empty one.
3. For each token: a comma (``,</w>`` = 267) records ``last_comma = len(chunk)``. Otherwise, when the chunk already
   holds 75 tokens, ``backtrack != 0``, a comma was seen and ``75 − last_comma ≤ backtrack`` (inclusive), the tokens
   after that comma move to a new chunk. Then a full chunk (75) is emitted. An embedding that would not fit in the
   current chunk emits it first and is never split. The token is appended with its segment's weight.
4. Emitting pads with EOS (multiplier 1.0) to 75 and wraps in BOS … EOS → 77 tokens; ``last_comma`` resets.
   At the end the last chunk is emitted if it has tokens or if there is no chunk yet (``""`` → one padding chunk).
5. ``token_count``: 75 for each emitted chunk except the last, which adds its real length (a UI figure only).

``PromptChunk.fixes`` holds ``PromptChunkFix(offset, embedding)`` with ``offset`` counted before the BOS, exactly as
A1111 (its ``EmbeddingsWithFixes`` writes the vectors at ``offset + 1``); the reserved slots hold token id 0.
As in A1111, a comma backtrack moves tokens but not their fixes, so an embedding placed after the last comma of a
full chunk keeps its fix in the emitted chunk (A1111 behaviour, kept for parity).
"""
from collections import namedtuple
from dataclasses import dataclass, field

from .attention import is_break, parse_prompt_attention
from .embedding_lookup import build_embedding_lookup, find_embedding_at_position
from .emphasis import check_emphasis, emphasis_parses_brackets
from .text_normalize import a1111_clean_text

PromptChunkFix = namedtuple("PromptChunkFix", ["offset", "embedding"])


@dataclass
class PromptChunk:
    """One encoder window: ``tokens`` and ``multipliers`` (77 each once emitted) and embedding ``fixes``."""
    tokens: list = field(default_factory=list)
    multipliers: list = field(default_factory=list)
    fixes: list = field(default_factory=list)


@dataclass(frozen=True)
class ClipSpecialIds:
    """The ids ``tokenize_line`` needs: BOS, EOS (also the SD1 pad) and the comma token (None if absent)."""
    start: int
    end: int
    comma: object


def clip_special_ids(tokenizer):
    """BOS/EOS/comma ids of a Hugging Face CLIP tokenizer (SD1: 49406, 49407, 267)."""
    comma = tokenizer.convert_tokens_to_ids(",</w>")
    if comma is None or tokenizer.convert_ids_to_tokens(comma) != ",</w>":
        comma = None
    if tokenizer.bos_token_id is None or tokenizer.eos_token_id is None:
        raise ValueError(f"tokenizer {type(tokenizer).__name__} has no BOS/EOS token; pass a CLIP tokenizer "
                         "(ComfyUI: clip.tokenizer.clip_l.tokenizer)")
    return ClipSpecialIds(tokenizer.bos_token_id, tokenizer.eos_token_id, comma)


def tokenize_segments(tokenizer, texts, normalize=True):
    """Token ids of each text, no BOS/EOS, after A1111's clean-up (``normalize=False`` feeds the text as is)."""
    if normalize:
        texts = [a1111_clean_text(text) for text in texts]
    return [list(ids) for ids in tokenizer(list(texts), truncation=False, add_special_tokens=False)["input_ids"]]


def empty_chunk(ids, chunk_length=75):
    """A1111's ``empty_chunk``: BOS + (chunk_length + 1) × EOS, multipliers 1.0 (pads shorter texts of a batch)."""
    return PromptChunk([ids.start] + [ids.end] * (chunk_length + 1), [1.0] * (chunk_length + 2), [])


def tokenize_line(line, tokenizer, comma_padding_backtrack=20, chunk_length=75, embeddings=None, emphasis="Original",
                  normalize=True):
    """Split one prompt into A1111's chunks; returns ``(chunks, token_count)``.

    ``embeddings``: optional mapping name → vector count (or an object with ``.vectors``, or a [n, dim] tensor).
    ``emphasis``: A1111's option; ``"None"`` skips the attention parse.
    """
    if not isinstance(line, str):
        raise ValueError(f"tokenize_line expects a prompt string, got {type(line).__name__}: {line!r}")
    if isinstance(comma_padding_backtrack, bool) or not isinstance(comma_padding_backtrack, int) \
            or comma_padding_backtrack < 0:
        raise ValueError(f"comma_padding_backtrack={comma_padding_backtrack!r} must be a whole number >= 0 "
                         "(A1111 default 20, slider 0-74; 0 turns the comma backtrack off)")
    if isinstance(chunk_length, bool) or not isinstance(chunk_length, int) or chunk_length < 1:
        raise ValueError(f"chunk_length={chunk_length!r} must be a whole number >= 1 (CLIP uses 75)")
    check_emphasis(emphasis)
    ids = clip_special_ids(tokenizer)
    lookup = build_embedding_lookup(embeddings, lambda names: tokenize_segments(tokenizer, names, normalize),
                                    chunk_length)
    parsed = parse_prompt_attention(line) if emphasis_parses_brackets(emphasis) else [[line, 1.0]]
    tokenized = tokenize_segments(tokenizer, [text for text, _ in parsed], normalize)
    return chunk_tokens(parsed, tokenized, ids, comma_padding_backtrack, chunk_length, lookup)


def chunk_tokens(parsed, tokenized, ids, comma_padding_backtrack=20, chunk_length=75, lookup=None):
    """The chunk loop of ``tokenize_line`` on already-tokenized segments (``tokenized[i]`` belongs to ``parsed[i]``)."""
    lookup = lookup or {}
    chunks = []
    chunk = PromptChunk()
    token_count = 0
    last_comma = -1

    def emit(is_last=False):
        nonlocal chunk, token_count, last_comma
        token_count += len(chunk.tokens) if is_last else chunk_length
        padding = chunk_length - len(chunk.tokens)
        if padding > 0:
            chunk.tokens += [ids.end] * padding
            chunk.multipliers += [1.0] * padding
        chunk.tokens = [ids.start] + chunk.tokens + [ids.end]
        chunk.multipliers = [1.0] + chunk.multipliers + [1.0]
        last_comma = -1
        chunks.append(chunk)
        chunk = PromptChunk()

    for tokens, entry in zip(tokenized, parsed):
        if is_break(entry):
            emit()
            continue
        weight = entry[1]
        position = 0
        while position < len(tokens):
            token = tokens[position]
            if token == ids.comma:
                last_comma = len(chunk.tokens)
            elif (comma_padding_backtrack != 0 and len(chunk.tokens) == chunk_length and last_comma != -1
                  and len(chunk.tokens) - last_comma <= comma_padding_backtrack):
                cut = last_comma + 1
                moved_tokens, moved_multipliers = chunk.tokens[cut:], chunk.multipliers[cut:]
                del chunk.tokens[cut:], chunk.multipliers[cut:]
                emit()
                chunk.tokens, chunk.multipliers = moved_tokens, moved_multipliers
            if len(chunk.tokens) == chunk_length:
                emit()

            embedding, length_in_tokens = find_embedding_at_position(lookup, tokens, position) if lookup \
                else (None, None)
            if embedding is None:
                chunk.tokens.append(token)
                chunk.multipliers.append(weight)
                position += 1
                continue
            if len(chunk.tokens) + embedding.vectors > chunk_length:
                emit()
            chunk.fixes.append(PromptChunkFix(len(chunk.tokens), embedding))
            chunk.tokens += [0] * embedding.vectors
            chunk.multipliers += [weight] * embedding.vectors
            position += length_in_tokens

    if chunk.tokens or not chunks:
        emit(is_last=True)
    return chunks, token_count
