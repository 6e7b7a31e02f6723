"""A1111's text clean-up before CLIP BPE (huggingface/transformers 4.30.2
``src/transformers/models/clip/tokenization_clip.py``, the version A1111 pins in ``requirements_versions.txt``).

A1111 tokenizes with the transformers 4.30 *slow* ``CLIPTokenizer``, whose ``_tokenize`` does
``whitespace_clean(ftfy.fix_text(text)).lower()`` with ``whitespace_clean = re.sub(r"\\s+", " ", t).strip()``.
``ftfy.fix_text`` (defaults) repairs mojibake, straightens curly quotes, expands ligatures, narrows fullwidth
letters and unescapes HTML entities when the text has no ``<``. ComfyUI's transformers 5 tokenizer skips ftfy, so
``ﬁne “quotes” a&amp;b ＡＢＣ`` gets other ids there; after this function both give
``[3797, 257, 5808, 257, 320, 261, 321, 5334]``. ASCII text is unchanged apart from whitespace and case.

``ftfy`` is a pack dependency. Without it the text is only whitespace-cleaned and lower-cased (a warning is issued
once): ids then differ from A1111 for the characters listed above, and are identical for plain ASCII.
"""
import re
import warnings

_WHITESPACE = re.compile(r"\s+")
_ftfy_fix_text = None
_ftfy_checked = False


def a1111_clean_text(text):
    """``whitespace_clean(ftfy.fix_text(text)).lower()``, the slow CLIPTokenizer's normalisation."""
    fix_text = _fix_text()
    if fix_text is not None:
        text = fix_text(text)
    return _WHITESPACE.sub(" ", text).strip().lower()


def _fix_text():
    global _ftfy_fix_text, _ftfy_checked
    if not _ftfy_checked:
        _ftfy_checked = True
        try:
            from ftfy import fix_text
            _ftfy_fix_text = fix_text
        except ImportError:
            warnings.warn("ftfy is not installed: prompts are tokenized without ftfy.fix_text, so curly quotes, "
                          "ligatures, fullwidth letters and HTML entities get different token ids than in A1111; "
                          "install it with `pip install ftfy`", RuntimeWarning, stacklevel=3)
    return _ftfy_fix_text
