"""Shared pytest setup for all three tiers.

The repository root *is* the pack. ComfyUI imports it under a mangled module name; tests import it as the
package ``forgeline`` without running its root ``__init__.py`` (which needs ComfyUI), so the pure core packages
(``forgeline.prompt``, ``forgeline.samplers``, ``forgeline.schedulers``, ``forgeline.lora``) import with no host.
"""
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

if "forgeline" not in sys.modules:
    _pkg = types.ModuleType("forgeline")
    _pkg.__path__ = [str(ROOT)]
    _pkg.__file__ = str(ROOT / "__init__.py")
    sys.modules["forgeline"] = _pkg
