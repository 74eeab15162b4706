"""Dataclass fields as typed command-line options and YAML keys.

Every field of TrainConfig and of a model's Config becomes `--field-name`; its help text is the
comment written beside the field in the source, so the paper citations show up in `--help`.
"""
from __future__ import annotations

import dataclasses
import inspect
import re
import types
import typing
from functools import lru_cache

from .errors import GanthologyError


@dataclasses.dataclass
class FieldSpec:
    name: str
    type: type  # int, float, str or bool
    optional: bool
    default: object
    help: str


@lru_cache(maxsize=None)
def field_specs(cls) -> tuple[FieldSpec, ...]:
    hints = typing.get_type_hints(cls)
    comments = _field_comments(cls)
    specs = []
    for f in dataclasses.fields(cls):
        t, optional = hints[f.name], False
        if typing.get_origin(t) in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(t) if a is not type(None)]
            t, optional = args[0], True
        specs.append(FieldSpec(f.name, t, optional, f.default, comments.get(f.name, "")))
    return tuple(specs)


def _field_comments(cls) -> dict[str, str]:
    try:
        src = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    out = {}
    for m in re.finditer(r"^\s+(\w+)\s*:[^#\n]*#\s*(.+)$", src, flags=re.M):
        out[m.group(1)] = m.group(2).strip()
    return out


def coerce(spec: FieldSpec, value, where: str):
    """A YAML or Python value converted to the field's type, or a clear error."""
    if value is None:
        if spec.optional:
            return None
        raise GanthologyError(f"{where}: setting {spec.name!r} cannot be empty.")
    try:
        if spec.type is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "yes", "1", "on"):
                return True
            if str(value).lower() in ("false", "no", "0", "off"):
                return False
            raise ValueError
        if spec.type is int and isinstance(value, float) and not value.is_integer():
            raise ValueError
        return spec.type(value)
    except (TypeError, ValueError):
        raise GanthologyError(
            f"{where}: setting {spec.name!r} needs a {spec.type.__name__}, got {value!r}."
        ) from None
