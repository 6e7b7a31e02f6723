"""tokenize_line with ComfyUI's real SD1 CLIP tokenizer (A1111 ``modules/sd_hijack_clip.py``).

Expected chunks are derived by hand from A1111's ``tokenize_line`` rules using words checked to be one BPE id each
(a 320, cat 2368, dog 1929, red 736, blue 1746, green 1901, house 1212, tree 2677, car 1615, sun 2176, "," 267).
"""
import pytest

from forgeline.prompt import clip_special_ids, tokenize_line

BOS, EOS, COMMA = 49406, 49407, 267
WORD = {"a": 320, "cat": 2368, "dog": 1929, "red": 736, "blue": 1746, "green": 1901, "house": 1212, "tree": 2677,
        "car": 1615, "sun": 2176}


@pytest.fixture(scope="module")
def tokenizer():
    from comfy.sd1_clip import SDTokenizer
    return SDTokenizer().tokenizer          # what ComfyUI's SD1 CLIP holds


def content(chunk):
    assert len(chunk.tokens) == 77 and len(chunk.multipliers) == 77
    inner = chunk.tokens[1:-1]
    return inner[:inner.index(EOS)] if EOS in inner else inner


def test_single_word_ids_and_special_ids(tokenizer):
    ids = clip_special_ids(tokenizer)
    assert (ids.start, ids.end, ids.comma) == (BOS, EOS, COMMA)
    got = tokenizer(list(WORD), add_special_tokens=False)["input_ids"]
    assert got == [[i] for i in WORD.values()]


def test_short_prompt_chunk(tokenizer):
    (chunk,), count = tokenize_line("a (cat), [dog]", tokenizer)
    assert chunk.tokens == [BOS, 320, 2368, 267, 1929] + [EOS] * 72
    assert chunk.multipliers == [1.0, 1.0, 1.1, 1.0, 1 / 1.1] + [1.0] * 72
    assert count == 4


def test_segments_are_tokenized_separately(tokenizer):
    # A1111 tokenizes each segment separately: no BPE merge across an emphasis boundary
    (chunk,), _ = tokenize_line("(masterpiece)best", tokenizer)
    assert content(chunk) == [12066, 949]
    (chunk,), _ = tokenize_line("masterpiecebest", tokenizer)
    assert content(chunk) == [4534, 39632, 949]


def test_a1111_text_normalisation(tokenizer):
    # transformers 4.30 slow CLIPTokenizer: ftfy + whitespace clean + lowercase, A1111's ids
    # (ComfyUI alone gives 171, 105, 223, …)
    (chunk,), count = tokenize_line("ﬁne “quotes”   a&amp;b ＡＢＣ", tokenizer)
    assert content(chunk) == [3797, 257, 5808, 257, 320, 261, 321, 5334] and count == 8


NINE = "cat dog red blue green house tree car sun,"     # 9 words + comma = 10 tokens


@pytest.mark.parametrize("backtrack,lengths", [(20, [70, 10]), (6, [70, 10]), (5, [75, 5]), (0, [75, 5])])
def test_comma_backtrack_on_eight_groups(tokenizer, backtrack, lengths):
    # A1111 comma backtrack: 8×"9 words," → [70, 10] (ComfyUI sd1_clip gives [75, 5]):
    # at token 76 the last comma is at index 69, 75 − 69 = 6
    chunks, count = tokenize_line(" ".join([NINE] * 8), tokenizer, comma_padding_backtrack=backtrack)
    assert [len(content(c)) for c in chunks] == lengths
    group = [2368, 1929, 736, 1746, 1901, 1212, 2677, 1615, 2176, COMMA]
    assert content(chunks[0]) + content(chunks[1]) == group * 8
    assert count == 75 + lengths[1]


def test_break_forces_a_new_chunk(tokenizer):
    chunks, count = tokenize_line("cat BREAK dog", tokenizer)
    assert [content(c) for c in chunks] == [[2368], [1929]] and count == 76
    chunks, _ = tokenize_line("BREAK cat", tokenizer)
    assert [content(c) for c in chunks] == [[], [2368]]
    chunks, _ = tokenize_line(" ".join(["cat"] * 75) + " BREAK dog", tokenizer)
    assert [len(content(c)) for c in chunks] == [75, 1]


def test_break_inside_brackets_is_the_word_break(tokenizer):
    (chunk,), _ = tokenize_line("(cat BREAK dog)", tokenizer)
    assert content(chunk) == [2368, 2568, 1929]
    assert chunk.multipliers[1:4] == [1.1, -1.1, 1.1]


def test_emphasis_none_tokenizes_brackets_and_break_literally(tokenizer):
    (chunk,), _ = tokenize_line("(cat) BREAK dog", tokenizer, emphasis="None")
    assert content(chunk) == [263, 2368, 264, 2568, 1929]
    assert chunk.multipliers == [1.0] * 77


def test_textual_inversion_name_is_matched_by_ids(tokenizer):
    # "easynegative" is two ids (18308, 8869); a 4-vector embedding takes 4 zero slots at its place
    (chunk,), count = tokenize_line("a EasyNegative, cat", tokenizer, embeddings={"easynegative": 4})
    assert content(chunk) == [320, 0, 0, 0, 0, 267, 2368]
    assert [(fix.offset, fix.embedding.name, fix.embedding.vectors) for fix in chunk.fixes] == [(1, "easynegative", 4)]
    assert count == 7
    (chunk,), _ = tokenize_line("a easynegatives", tokenizer, embeddings={"easynegative": 4})
    assert chunk.fixes == []          # token boundaries: "easynegatives" tokenizes differently


