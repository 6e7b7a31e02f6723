"""Everything a text-encode node needs from one prompt: AND parts, their weights and schedules.

A1111 order (``modules/processing.py``, ``modules/extra_networks.py``, ``modules/prompt_parser.py``): extra-network tags
are stripped first (by the caller), then the positive prompt is split on
``AND`` with trailing ``:w`` weights (``get_multicond_prompt_list``), then each part gets its own schedule
(``get_learned_conditioning_prompt_schedules``). The negative prompt is not split: ``AND`` and ``:w`` are literal
text there and its weight is 1.0. Identical part texts are kept once per prompt, as A1111's flat list does, but
each part keeps its own weight and position. The node encodes each distinct schedule text once (all variants of a
part in one batch, as A1111 ``get_learned_conditioning`` does) and the sampler hook picks entries per model call
(``prompt/step_schedule.py``).
"""
from dataclasses import dataclass

from .multicond import get_multicond_prompt_list
from .schedules import get_learned_conditioning_prompt_schedules, prompt_schedule_warnings


@dataclass(frozen=True)
class SubpromptSchedule:
    """One AND part: its ``text``, composable ``weight``, ``schedule`` ``[(end_at_step, text), …]`` and warnings."""
    text: str
    weight: float
    schedule: list
    warnings: list

    @property
    def texts(self):
        """The distinct texts to encode, in schedule order."""
        return list(dict.fromkeys(text for _, text in self.schedule))


def build_prompt_schedules(prompt, steps, hires_steps=None, use_old_scheduling=False, split_and=True):
    """The ``SubpromptSchedule`` of each AND part (``split_and=False`` for a negative prompt: one part, weight 1).

    >>> [(p.text, p.weight, p.schedule) for p in build_prompt_schedules("a [b:c:2] AND d:0.5", 4)]
    [('a [b:c:2]', 1.0, [(2, 'a b'), (4, 'a c')]), (' d', 0.5, [(4, ' d')])]
    """
    if not isinstance(prompt, str):
        raise ValueError(f"prompt must be a string, got {type(prompt).__name__}: {prompt!r}")
    if split_and:
        (indexes,), flat, _ = get_multicond_prompt_list([prompt])
        parts = [(flat[index], weight) for index, weight in indexes]
    else:
        parts = [(prompt, 1.0)]
    schedules = get_learned_conditioning_prompt_schedules([text for text, _ in parts], steps, hires_steps,
                                                          use_old_scheduling)
    return [SubpromptSchedule(text, weight, [(end, variant) for end, variant in schedule],
                              prompt_schedule_warnings(text))
            for (text, weight), schedule in zip(parts, schedules)]
