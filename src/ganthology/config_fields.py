"""Dataclass fields as typed command-line options and YAML keys.

Every field of TrainConfig and of a model's Config becomes `--field-name`; its help text is the
comment written beside the field in the source, so the paper citations show up in `--help`.
"""
from __future__ import annotations

import dataclasses
import inspect
import math
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
        shown = " ".join(repr(value).split())  # one line, whatever the value is
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise GanthologyError(f"{where}: setting {spec.name!r} needs a {spec.type.__name__}, got {shown}.") from None


#: the largest magnitude any numeric setting may have: beyond it a value is a typo, not a choice
HUGE = 10**9


def bounds(cls, spec: FieldSpec) -> tuple[float, float]:
    """The range a numeric setting of `cls` (TrainConfig or a model's Config) must lie in: the
    class's own `BOUNDS` where it declares one; otherwise batch sizes from 1 to 65,536, counts and
    sizes (ints) from 0 up, and weights, rates and scales (floats) from 0 up, or from -HUGE for the
    floats a Config names in `SIGNED` (LSGAN's target labels a, b, c may be negative)."""
    own = getattr(cls, "BOUNDS", {})
    if spec.name in own:
        return own[spec.name]
    if spec.name == "batch_size":
        return 1, 65536
    if spec.type is int:
        return 0, HUGE
    return (-HUGE if spec.name in getattr(cls, "SIGNED", ()) else 0), HUGE


def check_range(cls, spec: FieldSpec, value, where: str = "") -> None:
    """Refuse, in one sentence, a numeric setting that is not finite or outside `bounds`."""
    if value is None or spec.type not in (int, float) or isinstance(value, bool):
        return
    lo, hi = bounds(cls, spec)
    flag = f"--{spec.name.replace('_', '-')}"
    if not math.isfinite(value):
        raise GanthologyError(f"{where}{flag} {value!r} is not a finite number; give {describe(lo, hi)}.")
    if not lo <= value <= hi:
        raise GanthologyError(f"{where}{flag} {value!r} is out of range; give {describe(lo, hi)}.")


def describe(lo: float, hi: float) -> str:
    """'a number from 1 to 65,536' / 'a number of 0 or more'."""
    def fmt(v):
        return f"{int(v):,}" if float(v).is_integer() else f"{v:g}"

    return f"a number from {fmt(lo)} to {fmt(hi)}" if hi < HUGE else f"a number of {fmt(lo)} or more"
