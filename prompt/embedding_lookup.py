"""Textual-inversion name matching as A1111's ``EmbeddingDatabase`` does it (A1111
``modules/textual_inversion/textual_inversion.py``).

A name is tokenized with the model tokenizer; it matches wherever that token-id sequence occurs inside one parsed
prompt segment (no prefix, case-insensitive through the tokenizer's lower-casing, on token boundaries: ``easyneg,``
matches ``easyneg`` but ``easynegs`` does not). Candidates are grouped by their first id and tried longest first;
equal lengths keep registration order (A1111 sorts stably after appending). A match reserves ``vectors`` token slots.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class EmbeddingRef:
    """An embedding found in the prompt: its name, how many token slots it takes, and what the caller passed."""
    name: str
    vectors: int
    source: object = None


def embedding_vectors(name, value):
    """Vector count of a mapping value: an int, an object with ``.vectors``, or a 2-D tensor/array (rows)."""
    if isinstance(value, bool):
        count = None
    elif isinstance(value, int):
        count = value
    elif hasattr(value, "vectors"):
        count = int(value.vectors)
    elif getattr(value, "ndim", None) == 2:
        count = int(value.shape[0])
    else:
        count = None
    if count is None or count < 0:
        raise ValueError(f"embedding {name!r}: give its vector count as an int >= 0, an object with .vectors, or a "
                         f"[vectors, dim] tensor; got {value!r}")
    return count


def build_embedding_lookup(embeddings, tokenize_names, chunk_length=75):
    """``{first_id: [(ids, EmbeddingRef), …]}`` longest first. ``tokenize_names(list[str]) -> list[list[int]]``.

    Names that tokenize to nothing are skipped (A1111 would fail on them); an embedding with more vectors than a
    chunk holds is refused because A1111 would silently build an over-long chunk.
    """
    if not embeddings:
        return {}
    refs = []
    for name, value in embeddings.items():
        vectors = embedding_vectors(name, value)
        if vectors > chunk_length:
            raise ValueError(f"embedding {name!r} has {vectors} vectors but one chunk holds {chunk_length} tokens; "
                             "it cannot be placed (use an embedding with fewer vectors)")
        refs.append(EmbeddingRef(str(name), vectors, value))
    lookup = {}
    for ref, ids in zip(refs, tokenize_names([ref.name for ref in refs])):
        if ids:
            lookup.setdefault(ids[0], []).append((list(ids), ref))
    for candidates in lookup.values():
        candidates.sort(key=lambda candidate: len(candidate[0]), reverse=True)
    return lookup


def find_embedding_at_position(lookup, tokens, position):
    """``(EmbeddingRef, ids_length)`` of the embedding starting at ``tokens[position]``, or ``(None, None)``."""
    for ids, ref in lookup.get(tokens[position], ()):
        if tokens[position:position + len(ids)] == ids:
            return ref, len(ids)
    return None, None
