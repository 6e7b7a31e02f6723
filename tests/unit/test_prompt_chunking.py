"""The ``tokenize_line`` chunk loop on synthetic token ids (A1111 ``modules/sd_hijack_clip.py``,
``textual_inversion.py``): expected chunks are derived by hand from that code's rules. Real-tokenizer cases are in
tests/host/test_prompt_tokenize.py."""
import pytest

from forgeline.prompt import (
    ClipSpecialIds, PromptChunkFix, build_embedding_lookup, chunk_tokens, parse_prompt_attention, tokenize_line,
)

BOS, EOS, COMMA = 49406, 49407, 267
IDS = ClipSpecialIds(BOS, EOS, COMMA)
W = 320   # any ordinary word id


def run(segments, backtrack=20, lookup=None):
    """segments: list of ([text, weight], token ids)."""
    parsed = [entry for entry, _ in segments]
    tokenized = [ids for _, ids in segments]
    return chunk_tokens(parsed, tokenized, IDS, backtrack, 75, lookup)


def content(chunk):
    """The chunk's tokens between BOS and the first padding EOS."""
    assert len(chunk.tokens) == 77 and len(chunk.multipliers) == 77
    assert chunk.tokens[0] == BOS and chunk.tokens[-1] == EOS
    inner = chunk.tokens[1:-1]
    return inner[:inner.index(EOS)] if EOS in inner else inner


def test_single_word_chunk_layout():
    (chunk,), count = run([(["a", 1.3], [W])])
    assert chunk.tokens == [BOS, W] + [EOS] * 75
    assert chunk.multipliers == [1.0, 1.3] + [1.0] * 75
    assert count == 1


def test_empty_prompt_is_one_padding_chunk():
    (chunk,), count = run([(["", 1.0], [])])
    assert chunk.tokens == [BOS] + [EOS] * 76 and chunk.multipliers == [1.0] * 77 and count == 0


BRK = (["BREAK", -1], [])
E = (["", 1.0], [])


@pytest.mark.parametrize("segments,lengths", [
    ([E, BRK, E], [0]),                                                          # "BREAK": one empty chunk
    ([E, BRK, (["a", 1.0], [W])], [0, 1]),                                       # "BREAK a"
    ([(["a", 1.0], [W]), BRK, E, BRK, (["b", 1.0], [W])], [1, 0, 1]),            # "a BREAK BREAK b"
    ([(["a", 1.0], [W]), BRK, E], [1]),                                          # "a BREAK": trailing adds nothing
    ([(["x", 1.0], [W] * 75), BRK, (["dog", 1.0], [W])], [75, 1]),               # full chunk, then BREAK: no empty
])
def test_break_table(segments, lengths):
    # BREAK: next_chunk() at once, even on an empty chunk
    chunks, _ = run(segments)
    assert [len(content(c)) for c in chunks] == lengths


def test_break_marker_must_be_exactly_minus_one():
    # (a BREAK b) → ['BREAK', -1.1]: not a break, the word is tokenized with weight -1.1
    parsed = parse_prompt_attention("(a BREAK b)")
    chunks, _ = chunk_tokens(parsed, [[W], [1, 2], [W]], IDS)
    assert len(chunks) == 1 and content(chunks[0]) == [W, 1, 2, W]
    assert chunks[0].multipliers[1:5] == [1.1, -1.1, -1.1, 1.1]


def words_with_comma_at(index, total=76):
    return [COMMA if i == index else W + 1 + i for i in range(total)]


def test_comma_backtrack_fires_at_distance_20_inclusive():
    tokens = words_with_comma_at(55)
    (first, second), count = run([(["t", 1.0], tokens)])
    assert content(first) == tokens[:56]                 # up to and including the comma
    assert content(second) == tokens[56:]                # 19 moved + the 76th token
    assert count == 75 + 20


def test_comma_backtrack_does_not_fire_at_distance_21():
    tokens = words_with_comma_at(54)
    (first, second), _ = run([(["t", 1.0], tokens)])
    assert content(first) == tokens[:75] and content(second) == tokens[75:]


def test_comma_backtrack_zero_disables_it():
    tokens = words_with_comma_at(70)
    (first, second), _ = run([(["t", 1.0], tokens)], backtrack=0)
    assert content(first) == tokens[:75] and content(second) == [tokens[75]]


def test_backtrack_keeps_multipliers_with_their_tokens():
    head = [W] * 60 + [COMMA]
    tail = [W + 1] * 14
    (first, second), _ = run([(["a", 1.0], head), (["b", 1.5], tail), (["c", 0.5], [W + 2])])
    assert content(first) == head and first.multipliers[1:62] == [1.0] * 61
    assert content(second) == tail + [W + 2]
    assert second.multipliers[1:16] == [1.5] * 14 + [0.5]


def test_comma_as_76th_token_starts_the_next_chunk():
    tokens = [W] * 75 + [COMMA, W]
    (first, second), _ = run([(["t", 1.0], tokens)])
    assert content(first) == [W] * 75 and content(second) == [COMMA, W]


def test_long_word_is_split_mid_word_and_counts():
    chunks, count = run([(["t", 1.0], [W] * 80)])
    assert [len(content(c)) for c in chunks] == [75, 5] and count == 80
    chunks, count = run([(["t", 1.0], [W] * 150)])
    assert [len(content(c)) for c in chunks] == [75, 75] and count == 150


# --- embeddings (A1111 textual_inversion.py) -----------------------------------------------------------------
NAME_IDS = {"emb": [900, 901], "a": [5], "a b": [5, 6], "easyneg": [7, 8]}


def fake_tokenize(names):
    return [NAME_IDS[name] for name in names]


def test_embedding_reserves_slots_and_records_fix():
    lookup = build_embedding_lookup({"emb": 3}, fake_tokenize)
    (chunk,), count = run([(["x", 1.2], [W, 900, 901, W])], lookup=lookup)
    assert content(chunk)[:5] == [W, 0, 0, 0, W]
    assert chunk.multipliers[1:6] == [1.2] * 5
    assert [(fix.offset, fix.embedding.name, fix.embedding.vectors) for fix in chunk.fixes] == [(1, "emb", 3)]
    assert isinstance(chunk.fixes[0], PromptChunkFix) and count == 5


def test_embedding_is_never_split_across_chunks():
    lookup = build_embedding_lookup({"emb": 3}, fake_tokenize)
    (first, second), _ = run([(["x", 1.0], [W] * 73 + [900, 901])], lookup=lookup)
    assert content(first) == [W] * 73
    assert content(second) == [0, 0, 0] and second.fixes[0].offset == 0 and not first.fixes


def test_embedding_match_is_longest_first_and_on_token_boundaries():
    lookup = build_embedding_lookup({"a": 1, "a b": 2, "easyneg": 1}, fake_tokenize)
    (chunk,), _ = run([(["x", 1.0], [5, 6, 5, 7, 8, COMMA, 7, 9])], lookup=lookup)
    assert [(f.offset, f.embedding.name) for f in chunk.fixes] == [(0, "a b"), (2, "a"), (3, "easyneg")]
    assert content(chunk) == [0, 0, 0, 0, COMMA, 7, 9]


def test_embedding_value_forms_and_errors():
    class Emb:
        vectors = 2
    lookup = build_embedding_lookup({"emb": Emb()}, fake_tokenize)
    assert lookup[900][0][1].vectors == 2
    with pytest.raises(ValueError, match="vector count"):
        build_embedding_lookup({"emb": "x"}, fake_tokenize)
    with pytest.raises(ValueError, match="at most|holds 75"):
        build_embedding_lookup({"emb": 80}, fake_tokenize)


def test_tokenize_line_argument_errors():
    with pytest.raises(ValueError, match="comma_padding_backtrack"):
        tokenize_line("a", None, comma_padding_backtrack=-1)
    with pytest.raises(ValueError, match="unknown emphasis"):
        tokenize_line("a", None, emphasis="original")
    with pytest.raises(ValueError, match="prompt string"):
        tokenize_line(None, None)
