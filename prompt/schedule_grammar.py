"""A hand-written parser for A1111's prompt-editing grammar (A1111 ``modules/prompt_parser.py``).

A1111 parses with lark (Earley) and this grammar::

    start:       (prompt | RAW)*                     RAW: one of  [ ] ( ) :   (kept as text)
    prompt:      (emphasized | scheduled | alternate | plain | WHITESPACE)*
    emphasized:  "(" prompt ")" | "(" prompt ":" prompt ")" | "[" prompt "]"          (kept verbatim)
    scheduled:   "[" [prompt ":"] prompt ":" [WHITESPACE] NUMBER [WHITESPACE] "]"
    alternate:   "[" prompt ("|" [prompt])+ "]"
    plain:       /([^\\\\\\[\\]():|]|\\\\.)+/            (a backslash escapes any character but a newline)
    NUMBER:      lark SIGNED_NUMBER   (+3, -1, .5, 3., 1e1 …)

What this means, and how this module decides it without lark:

* Inside a construct everything must be well formed: brackets nest and match, ``(`` holds at most one ``:`` and no
  ``|``, ``[`` holds nothing (emphasis), only ``|`` (alternation, empty options allowed), or one or two ``:`` whose
  last part is ``\\s*NUMBER\\s*`` (scheduling). So a bracket's fate depends only on its own contents: one stack pass
  decides every bracket; an invalid one makes all brackets around it invalid.
* At the top level an invalid bracket is RAW text and what it held is parsed again at the top level, so the valid
  constructs inside it still count (``a [unbalanced [c:d:0.5]`` still schedules). The outermost valid constructs win.
* A ``|`` that ends up outside every valid alternation, or a backslash with nothing (or a newline) after it, cannot
  be parsed at all: A1111 then keeps the whole prompt as one text and disables every schedule in it.

Non-determinism (lark's Earley ambiguity resolution depends on ``PYTHONHASHSEED``): when a top-level ``[..:..:N]``
schedule is directly followed by a bracket or colon that is RAW text (a stray ``:``, ``)``, ``]``, or an opening bracket
that never forms a construct: ``[a:b:0.5]:1.2``,
``[a:b:0.5][``), lark's choice depends on ``PYTHONHASHSEED`` (about half the seeds schedule it, the rest keep the
whole prompt raw; checked with lark 1.1.2 over 24 seeds). Alternations are not affected. This parser always
schedules it and lists the RAW character's position in ``ParsedSchedulePrompt.ambiguous_at``.

Output of a parse: the constructs with their text spans; the text at a step is the source with every construct
replaced by its active branch, recursively (``render``). Iterative throughout, so 10 000 nested brackets are fine.
"""
import re
from dataclasses import dataclass, field

_LEX = re.compile(r"\\[^\n]|\\|[\[\]():|]|[^\\\[\]():|]+")
_NUMBER_PART = re.compile(
    r"\s*([+-]?(?:[0-9]+[eE][+-]?[0-9]+|(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+))\s*")
_CLOSER = {"(": ")", "[": "]"}


class ScheduleSyntaxError(ValueError):
    """The prompt cannot be parsed by A1111's schedule grammar; A1111 falls back to the whole prompt, unscheduled."""

    def __init__(self, message, position):
        super().__init__(message)
        self.position = position


@dataclass
class Segment:
    """A span of the source (``start:end``) and the constructs directly inside it, in order."""
    start: int
    end: int
    children: list = field(default_factory=list)


@dataclass
class Scheduled:
    """``[before:after:NUMBER]`` or ``[after:NUMBER]`` (``before`` is then None). ``number`` is the raw NUMBER text."""
    start: int
    end: int
    before: Segment
    after: Segment
    number: str


@dataclass
class Alternate:
    """``[a|b|…]``: one Segment per option (an empty option is an empty Segment)."""
    start: int
    end: int
    options: list


@dataclass
class ParsedSchedulePrompt:
    """A parse of one prompt: its top-level constructs, every construct (depth-first order), and ambiguity spots."""
    source: str
    top: list
    constructs: list
    ambiguous_at: list


@dataclass
class _Frame:
    kind: str
    start: int
    separators: list = field(default_factory=list)
    children: list = field(default_factory=list)
    valid: bool = True
    closed_at: int = None


def parse_schedule_prompt(prompt):
    """Parse ``prompt`` with A1111's prompt-editing grammar; raise ``ScheduleSyntaxError`` where lark would fail."""
    if not isinstance(prompt, str):
        raise ValueError(f"a prompt must be a string, got {type(prompt).__name__}: {prompt!r}")
    top, raw = [], set()
    follows = {}  # position of a bracket/colon of an emphasis or schedule → where that group ends
    stack = []

    def children_of_parent():
        return stack[-1].children if stack else top

    def give_up(frame):
        """``frame`` is not a construct: its constructs move up, its parent cannot be one either."""
        if frame.separators:
            pipes = [pos for pos, sep in frame.separators if sep == "|"]
            if pipes:
                raise ScheduleSyntaxError(
                    f"the '|' at character {pipes[0]} is not inside a valid [a|b] alternation, so A1111 cannot parse "
                    "this prompt and disables ALL prompt editing in it; escape it as \\| or fix the brackets around it",
                    pipes[0])
            raw.update(pos for pos, _ in frame.separators)
        if frame.children:
            children_of_parent().extend(frame.children)
        raw.add(frame.start)
        if frame.closed_at is not None:
            raw.add(frame.closed_at)
        if stack:
            stack[-1].valid = False

    for m in _LEX.finditer(prompt):
        token, pos = m.group(0), m.start()
        if token == "\\":
            raise ScheduleSyntaxError(
                f"the backslash at character {pos} escapes nothing (it ends the prompt or a line), so A1111 cannot "
                "parse this prompt and disables ALL prompt editing in it; remove it or write \\\\", pos)
        if token in ("(", "["):
            stack.append(_Frame(token, pos))
        elif token in (":", "|"):
            if stack:
                stack[-1].separators.append((pos, token))
            elif token == "|":
                raise ScheduleSyntaxError(
                    f"the '|' at character {pos} is outside any [a|b] alternation, so A1111 cannot parse this prompt "
                    "and disables ALL prompt editing in it; escape it as \\| or put it inside [ ]", pos)
            else:
                raw.add(pos)
        elif token in (")", "]"):
            if stack and _CLOSER[stack[-1].kind] == token:
                frame = stack.pop()
                frame.closed_at = pos
                construct = _close(frame, pos + 1, prompt) if frame.valid else False
                if construct is False:
                    give_up(frame)
                    continue
                if construct is None:
                    children_of_parent().extend(frame.children)  # emphasis: transparent
                else:
                    children_of_parent().append(construct)
                if not isinstance(construct, Alternate):
                    for at in [frame.start, pos] + [p for p, _ in frame.separators]:
                        follows[at] = pos + 1
            else:
                while stack:  # a closer that matches nothing here: every open bracket contains a stray closer
                    give_up(stack.pop())
                raw.add(pos)
    while stack:
        give_up(stack.pop())
    constructs = _depth_first(top)
    return ParsedSchedulePrompt(prompt, top, constructs, _ambiguous_spots(constructs, raw, follows))


def _ambiguous_spots(constructs, raw, follows):
    """Ends of schedules that lark may or may not parse, depending on ``PYTHONHASHSEED`` (measured by running
A1111's grammar under lark 1.1.2 with several seeds).

    Measured with lark 1.1.2 over 24 seeds: a ``[..:..:N]`` is unstable when the character after it is RAW text, or
    is a bracket/colon of an emphasis or schedule (which lark may also read as RAW) whose group is itself followed,
    the same way, by RAW text. Plain text, whitespace, alternations and the end of the prompt stop the chain.
    """
    reaches_raw = {}
    for pos in sorted(set(follows) | raw, reverse=True):
        reaches_raw[pos] = pos in raw or reaches_raw.get(follows.get(pos), False)
    return [c.end for c in constructs if isinstance(c, Scheduled) and reaches_raw.get(c.end, False)]


def _close(frame, end, source):
    """Decide a closed bracket: a construct, None for plain emphasis, or False when it fits no rule."""
    seps = frame.separators
    colons = [p for p, s in seps if s == ":"]
    pipes = [p for p, s in seps if s == "|"]
    if frame.kind == "(":
        return None if not pipes and len(colons) <= 1 else False
    if not seps:
        return None
    inner_end = end - 1
    if pipes and not colons:
        bounds = [frame.start] + pipes + [inner_end]
        options = [Segment(a + 1, b) for a, b in zip(bounds, bounds[1:])]
        _distribute(frame.children, options)
        return Alternate(frame.start, end, options)
    if colons and not pipes and len(colons) <= 2:
        number = _NUMBER_PART.fullmatch(source, colons[-1] + 1, inner_end)
        if number is None:
            return False
        if len(colons) == 2:
            before, after = Segment(frame.start + 1, colons[0]), Segment(colons[0] + 1, colons[1])
        else:
            before, after = None, Segment(frame.start + 1, colons[0])
        _distribute(frame.children, [s for s in (before, after) if s is not None])
        return Scheduled(frame.start, end, before, after, number.group(1))
    return False


def _distribute(children, segments):
    """Hand each child construct to the segment that holds it (both lists are in source order)."""
    index = 0
    for child in children:
        while not (segments[index].start <= child.start and child.end <= segments[index].end):
            index += 1
        segments[index].children.append(child)


def _branches(construct):
    if isinstance(construct, Scheduled):
        return [s for s in (construct.before, construct.after) if s is not None]
    return construct.options


def _depth_first(top):
    out, todo = [], list(reversed(top))
    while todo:
        construct = todo.pop()
        out.append(construct)
        for segment in reversed(_branches(construct)):
            todo.extend(reversed(segment.children))
    return out


def render(parsed, choose):
    """The prompt text with each construct replaced by ``choose(construct)`` (a Segment, or None for nothing)."""
    source, out = parsed.source, []
    stack = [[0, len(source), parsed.top, 0]]
    while stack:
        frame = stack[-1]
        cursor, end, children, index = frame
        if index < len(children):
            child = children[index]
            out.append(source[cursor:child.start])
            frame[0], frame[3] = child.end, index + 1
            segment = choose(child)
            if segment is not None:
                stack.append([segment.start, segment.end, segment.children, 0])
        else:
            out.append(source[cursor:end])
            stack.pop()
    return "".join(out)
