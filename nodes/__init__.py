"""ComfyUI adapters: one module per concept, each listing its node classes in ``NODES``.

Every module in this package is imported; the classes in its ``NODES`` list become entries of
``NODE_CLASS_MAPPINGS`` keyed by their schema ``node_id`` (all prefixed ``Forgeline``). Modules may also define
``def on_load() -> None`` (run once after import). The host hooks (dropdown registration, web routes) run
once after every module is loaded. A module that fails to import is reported once with its name and the error,
and the rest of the pack still loads.
"""
from __future__ import annotations

import importlib
import logging
import pkgutil

log = logging.getLogger("forgeline")

NODE_CLASS_MAPPINGS: dict = {}
NODE_DISPLAY_NAME_MAPPINGS: dict = {}


def _schema_of(cls):
    return cls.GET_SCHEMA() if hasattr(cls, "GET_SCHEMA") else cls.define_schema()


def _load() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"{__name__}.{info.name}")
        except Exception as exc:  # one broken module must not take the pack down
            log.error("Forgeline: node module %r failed to import: %s: %s", info.name, type(exc).__name__, exc)
            continue
        for cls in getattr(module, "NODES", ()):
            schema = _schema_of(cls)
            NODE_CLASS_MAPPINGS[schema.node_id] = cls
            NODE_DISPLAY_NAME_MAPPINGS[schema.node_id] = schema.display_name or schema.node_id
        hook = getattr(module, "on_load", None)
        if hook is not None:
            try:
                hook()
            except Exception as exc:
                log.error("Forgeline: %s.on_load failed: %s: %s", info.name, type(exc).__name__, exc)


def _register_host_hooks() -> None:
    from ..host import dropdowns, routes
    for hook in (dropdowns.on_load, routes.on_load):
        try:
            hook()
        except Exception as exc:
            log.error("Forgeline: %s failed: %s: %s", hook.__module__, type(exc).__name__, exc)


_load()
_register_host_hooks()
