"""Split a LoRA state dict into normalised :class:`Adapter` objects and detect its file format.

Rule: each key is ``<module><suffix>`` with the *longest* suffix found in the kohya, diffusers, PEFT and LyCORIS
tables (``kohya.py``, ``diffusers.py``, ``peft.py``, ``lycoris.py``); keys are grouped by module, and each group
becomes one adapter per kind present (``lora``, ``loha``, ``lokr``, ``ia3``; ``diff`` gives one adapter for the
weight and one for ``.bias``). ``alpha`` and ``dora_scale`` / PEFT ``lora_magnitude_vector`` attach to the
module's adapters. Keys that fit no table, or a group missing a required tensor, are returned as unrecognised
with a reason, never silently dropped (ComfyUI only logs "lora key not loaded").
"""
from .adapter import Adapter
from .diffusers import DIFFUSERS_NAME_PREFIXES, DIFFUSERS_SUFFIXES
from .kohya import KOHYA_SUFFIXES, is_kohya_name
from .lycoris import LYCORIS_SUFFIXES, UNSUPPORTED_SUFFIXES
from .peft import PEFT_NAME_PREFIXES, PEFT_SUFFIXES

_TABLES = (("kohya", KOHYA_SUFFIXES), ("diffusers", DIFFUSERS_SUFFIXES), ("peft", PEFT_SUFFIXES),
           ("lycoris", LYCORIS_SUFFIXES))
_ALL = sorted(((sfx, fam, kind, role) for fam, table in _TABLES for sfx, (kind, role) in table.items()),
              key=lambda x: -len(x[0]))

REQUIRED_ROLES = {
    "lora": ({"up", "down"},),
    "loha": ({"w1a", "w1b", "w2a", "w2b"},),
    "lokr": ({"w1", "w2"}, {"w1a", "w1b", "w2"}, {"w1", "w2a", "w2b"}, {"w1a", "w1b", "w2a", "w2b"}),
    "ia3": ({"w", "on_input"},),
}


def split_lora_key(key):
    """``(module, family, kind, role)`` for the longest known suffix of ``key``; ``None`` if none matches."""
    for sfx, fam, kind, role in _ALL:
        if key.endswith(sfx) and len(key) > len(sfx):
            return key[: -len(sfx)], fam, kind, role
    return None


def _naming(module, suffix_family):
    if suffix_family == "lycoris" and module.startswith("lycoris_"):
        return "lycoris"
    if is_kohya_name(module):
        return "kohya"
    if module.startswith(PEFT_NAME_PREFIXES):
        return "peft"
    if suffix_family in ("diffusers", "peft"):
        return suffix_family
    if module.startswith(DIFFUSERS_NAME_PREFIXES):
        return "diffusers"
    return "generic"


def _dora_tensor(group):
    if "dora_scale" in group["roles"]:
        return group["roles"]["dora_scale"][1]
    if "magnitude" in group["roles"]:
        m = group["roles"]["magnitude"][1]
        return m.reshape(-1, 1)  # PEFT: output axis; delta.py broadcasts [out, 1] to [out, 1, 1, 1] for convs
    return None


def parse_lora_tensors(tensors):
    """``(adapters, unrecognised)`` from a LoRA state dict; ``unrecognised`` maps key → reason."""
    groups, unrecognised = {}, {}
    for key in tensors:
        unsup = next((name for sfx, name in UNSUPPORTED_SUFFIXES.items() if key.endswith(sfx)), None)
        if unsup:
            unrecognised[key] = f"{unsup} adapters are not supported"
            continue
        hit = split_lora_key(key)
        if hit is None:
            unrecognised[key] = "no known LoRA/LyCORIS/diffusers/PEFT suffix"
            continue
        module, fam, kind, role = hit
        g = groups.setdefault(module, {"roles": {}})
        if role in g["roles"]:
            unrecognised[key] = f"duplicate '{role}' tensor for module '{module}' (also {g['roles'][role][0]})"
            continue
        g["roles"][role] = (key, tensors[key], fam)
        g.setdefault("kinds", {}).setdefault(kind, set()).add(role)

    adapters = []
    for module, g in groups.items():
        roles = g["roles"]
        alpha = float(roles["alpha"][1].reshape(()).item()) if "alpha" in roles else None
        dora = _dora_tensor(g)
        shared = [roles[r][0] for r in ("alpha", "dora_scale", "magnitude") if r in roles]
        kinds = {k: v for k, v in g.get("kinds", {}).items() if k is not None}
        used = False
        for kind, present in kinds.items():
            suffix_family = roles[sorted(present)[0]][2]
            naming = _naming(module, suffix_family)
            if naming == "diffusers" and any(roles[r][0].endswith(("_lora.up.weight", "_lora.down.weight",
                                                                   ".lora_linear_layer.up.weight",
                                                                   ".lora_linear_layer.down.weight"))
                                             for r in present):
                naming = "diffusers-old"
            if kind == "diff":
                for role, param in (("diff", "weight"), ("diff_b", "bias")):
                    if role in present:
                        adapters.append(Adapter(module, "diff", {"diff": roles[role][1]}, param=param,
                                                file_format=naming, source_keys=(roles[role][0],)))
                used = True
                continue
            options = REQUIRED_ROLES[kind]
            if not any(req <= present for req in options):
                if kind == "ia3" and present == {"w"}:
                    reason = "a bare '.weight' without '.on_input' is not an adapter tensor"
                else:
                    need = " or ".join("+".join(sorted(r)) for r in options)
                    reason = f"incomplete {kind} module '{module}': has {sorted(present)}, needs {need}"
                for r in present:
                    unrecognised[roles[r][0]] = reason
                continue
            t = {r: roles[r][1] for r in present if r != "on_input"}
            on_input = bool(roles["on_input"][1].reshape(-1)[0].item()) if "on_input" in present else False
            fmt = {"loha": "lycoris-loha", "lokr": "lycoris-lokr", "ia3": "lycoris-ia3"}.get(kind, naming)
            if kind != "lora" and naming not in ("kohya", "lycoris"):
                fmt = f"{fmt}({naming})"
            adapters.append(Adapter(module, kind, t, alpha=None if kind == "ia3" else alpha,
                                    dora_scale=dora if kind in ("lora", "loha", "lokr") else None,
                                    on_input=on_input, file_format=fmt,
                                    source_keys=tuple(roles[r][0] for r in present) + tuple(shared)))
            used = True
        if not used:
            for r in ("alpha", "dora_scale", "magnitude"):
                if r in roles and roles[r][0] not in unrecognised:
                    unrecognised[roles[r][0]] = f"'{r}' for module '{module}' which has no adapter tensors"
    return adapters, unrecognised


def detect_format(adapters):
    """Sorted distinct file-format labels of ``adapters`` (``kohya``, ``diffusers``, ``peft``, ``lycoris-loha``…),
    with ``+dora`` when any adapter carries a DoRA magnitude and ``locon`` when a kohya LoRA has a k×k conv down."""
    labels = set()
    for a in adapters:
        label = a.file_format if a.kind != "diff" else "full-diff"
        if a.kind == "lora" and a.tensors["down"].dim() == 4 and (a.tensors["down"].shape[-1] > 1 or "mid" in a.tensors):
            label += "-locon"
        labels.add(label)
    out = sorted(labels)
    if any(a.is_dora for a in adapters):
        out.append("dora")
    return out
