"""YAML run settings into frozen dataclasses, shared by every trainer of the project.

Every key of a YAML section must be a field of its dataclass (unknown keys are refused with their
dotted names, so a typo never trains silently with a default); lists become tuples, integers become
floats where a float is expected, and nested sections become nested dataclasses.
"""
from __future__ import annotations

import dataclasses
import types
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

T = TypeVar('T')


def read_yaml_dataclass(path: str | Path, cls: type[T], where: str) -> T:
    """Read the YAML mapping in ``path`` (an empty file = all defaults) into ``cls``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not valid YAML, or ``build_dataclass`` refuses it; the message starts with the path.
    """
    path = Path(path)
    with path.open(encoding='utf-8') as file:
        try:
            data = yaml.safe_load(file)
        except yaml.YAMLError as error:
            raise ValueError(f'{path}: not valid YAML: {error}') from error
    try:
        return build_dataclass(cls, {} if data is None else data, where)
    except (TypeError, ValueError) as error:
        raise ValueError(f'{path}: {error}') from error


def build_dataclass(cls: type, data: Any, where: str) -> Any:
    """The frozen dataclass ``cls`` from nested mappings (YAML), nested dataclasses and tuples converted.

    Args:
        cls: a dataclass with type hints.
        data: a mapping of its field names to values; missing fields keep their defaults.
        where: the dotted name of ``data`` for error messages (e.g. ``'training.optimizer'``).

    Raises:
        ValueError: ``data`` is not a mapping, has unknown keys (named, dotted), a value of the wrong
            type, or the dataclass refuses it.
    """
    if not isinstance(data, dict):
        raise ValueError(f'{where} must be a mapping, got {type(data).__name__}: {data!r}')
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f'unknown key(s) in {where}: {", ".join(f"{where}.{key}" for key in unknown)}')
    kwargs = {name: _convert(hints[name], value, f'{where}.{name}') for name, value in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as error:
        raise ValueError(f'{where}: {error}') from error


def _convert(hint: Any, value: Any, where: str) -> Any:
    """Turn a YAML value into the annotated type: nested dataclasses, tuples, optional values."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [arg for arg in get_args(hint) if arg is not type(None)]
        return None if value is None else _convert(options[0], value, where)
    if dataclasses.is_dataclass(hint):
        return build_dataclass(hint, value, where)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ValueError(f'{where} must be a list, got {value!r}')
        args = get_args(hint)
        item_hint = args[0] if len(args) == 2 and args[1] is Ellipsis else None
        if item_hint is None and len(args) != len(value):
            raise ValueError(f'{where} must have {len(args)} entries, got {value!r}')
        return tuple(_convert(item_hint if item_hint is not None else args[i], item, f'{where}[{i}]')
                     for i, item in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f'{where} must be a mapping, got {value!r}')
        return dict(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and not isinstance(value, hint):
        raise ValueError(f'{where} must be {hint.__name__}, got {value!r}')
    if hint is int and isinstance(value, bool):
        raise ValueError(f'{where} must be int, got {value!r}')
    return value
