"""Settings as trees of frozen dataclasses, and the one converter from nested mappings into them.

Every settings object of the project is a frozen dataclass whose defaults and checks live in the class:
the model config (``model.config.ModelConfig``, also read back from checkpoints), the Box2Seg config, the
training runs (YAML files) and the node's parameters (``node.parameters.NodeSettings``, dotted ROS names).
``build_dataclass`` builds any of them from nested mappings (JSON, YAML, the node's dotted parameter values
through ``unflatten``): every key must be a field (unknown keys are refused with their dotted names, so a typo
never runs silently with a default); lists become tuples, integers become floats where a float is expected,
values of the wrong type are refused with their dotted name, nested mappings become nested dataclasses.
``flatten`` is the inverse view: ``{'tracker.tdpa.alpha': 0.3, ...}``.

A field's range and choices are stated once, in its metadata (``setting``): ``check_settings`` enforces them
in the class's ``__post_init__``, and the node makes its ROS parameter descriptors from them
(``node.parameters``), so the two cannot disagree.
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


def setting(default: Any, *, low: float | None = None, high: float | None = None, low_open: bool = False,
            choices: tuple[str, ...] | None = None) -> Any:
    """A dataclass field with its allowed values in its metadata: ``low <= value <= high`` (``low < value`` with
    ``low_open``; a missing bound is unbounded, ``inf`` is a value) or one of ``choices``."""
    return dataclasses.field(default=default, metadata={'low': low, 'high': high, 'low_open': low_open,
                                                         'choices': choices})


def bounds(cls: type, name: str) -> tuple[float | None, float | None, bool, tuple[str, ...] | None]:
    """``(low, high, low_open, choices)`` of field ``name`` of dataclass ``cls`` (all None / False if unbounded)."""
    return _field_bounds(next(f for f in dataclasses.fields(cls) if f.name == name))


def _field_bounds(item: dataclasses.Field) -> tuple[float | None, float | None, bool, tuple[str, ...] | None]:
    metadata = item.metadata
    return metadata.get('low'), metadata.get('high'), bool(metadata.get('low_open')), metadata.get('choices')


class SettingError(ValueError):
    """A field outside its range or choices: ``field`` is its name, ``text`` the rest of the message."""

    def __init__(self, field: str, text: str) -> None:
        super().__init__(f'{field} {text}')
        self.field = field
        self.text = text


def check_settings(settings: Any) -> None:
    """Enforce the ranges and choices of ``setting`` fields (call it from ``__post_init__``).

    Raises:
        SettingError: ``'<field> must be a number in [low, high], got <value>'`` (``(low, high]`` when open below;
            NaN and non-numbers are refused too; an int field takes only ints), or ``'<field> must be one of ...'``.
    """
    for item in dataclasses.fields(settings):
        low, high, low_open, choices = _field_bounds(item)
        value = getattr(settings, item.name)
        if choices is not None and value not in choices:
            raise SettingError(item.name, f'must be one of {choices}, got {value!r}')
        if low is None and high is None:
            continue
        integer = isinstance(item.default, int) and not isinstance(item.default, bool)
        number = isinstance(value, int if integer else int | float) and not isinstance(value, bool)
        inside = number and (low is None or (value > low if low_open else value >= low)) \
            and (high is None or value <= high)  # NaN is outside
        if not inside:
            interval = f'{"(" if low_open else "["}{low}, {high}]'
            raise SettingError(item.name, f'must be {"an integer" if integer else "a number"} in {interval}, '
                                          f'got {value!r}')


def flatten(settings: Any, prefix: str = '') -> dict[str, Any]:
    """``{dotted field path: value}`` of the leaves of a dataclass tree (nested dataclasses are walked)."""
    values: dict[str, Any] = {}
    for item in dataclasses.fields(settings):
        value = getattr(settings, item.name)
        if dataclasses.is_dataclass(value):
            values.update(flatten(value, f'{prefix}{item.name}.'))
        else:
            values[f'{prefix}{item.name}'] = value
    return values


def unflatten(values: dict[str, Any]) -> dict[str, Any]:
    """``{'a.b': 1, 'a.c': 2}`` -> ``{'a': {'b': 1, 'c': 2}}`` (the input of ``build_dataclass``)."""
    tree: dict[str, Any] = {}
    for dotted, value in values.items():
        *parents, leaf = dotted.split('.')
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def build_dataclass(cls: type, data: Any, where: str) -> Any:
    """The frozen dataclass ``cls`` from nested mappings (YAML), nested dataclasses and tuples converted.

    Args:
        cls: a dataclass with type hints.
        data: a mapping of its field names to values; missing fields keep their defaults.
        where: the dotted name of ``data`` for error messages (e.g. ``'training.optimizer'``); ``''`` names the
            fields by their dotted paths alone (the node's parameters: ``tracker.tdpa.alpha``).

    Raises:
        ValueError: ``data`` is not a mapping, has unknown keys (named, dotted), a value of the wrong
            type, or the dataclass refuses it.
    """
    if not isinstance(data, dict):
        raise ValueError(f'{where or "settings"} must be a mapping, got {type(data).__name__}: {data!r}')
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f'unknown key(s) in {where or "settings"}: {", ".join(_join(where, key) for key in unknown)}')
    kwargs = {name: _convert(hints[name], value, _join(where, name)) for name, value in data.items()}
    try:
        return cls(**kwargs)
    except SettingError as error:  # a field's range or choices: named by its whole dotted path
        raise ValueError(f'{_join(where, error.field)} {error.text}') from error
    except (TypeError, ValueError) as error:  # the class's own other checks; nested sections were built above
        raise ValueError(f'{where}: {error}' if where else str(error)) from error


def _join(where: str, name: str) -> str:
    """The dotted name of field ``name`` of the section ``where`` (the top level has no name: ``''``)."""
    return f'{where}.{name}' if where else name


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
