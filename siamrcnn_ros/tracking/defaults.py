"""The tracker settings that ship with each model preset: what the tools, the benchmarks and the node's
shipped config use unless told otherwise.

The paper's reference settings (``TrackerSettings()``) are the default for every preset. A preset whose
settings were tuned lists them in ``TUNED``, with where they were chosen; tuning is done on validation
videos only (``benchmarks/tdpa_sweep.py``), never on the test split or the real clips.
"""
from __future__ import annotations

import dataclasses

from siamrcnn_ros.tracking.selectors import VARIANTS
from siamrcnn_ros.tracking.settings import TDPASettings
from siamrcnn_ros.tracking.tracker import TrackerSettings

TUNED: dict[str, TrackerSettings] = {
    # Chosen on the four long-term validation videos of a photo world of seed 1 (benchmarks/tdpa_sweep.py,
    # first 800 frames; benchmarks/RESULTS.md, issue 17): without the location score (w_loc 0) TDPA's AUC
    # was 0.220 against 0.216 with the paper's 7.0, LT-F 0.280 against 0.272; the other settings (w_ff 0.5 or
    # 1.0, beta 0.1, the per-frame confidence) were no better by more than the noise between neighbours.
    'demo': TrackerSettings(tdpa=TDPASettings(w_loc=0.0), search_shift=0.5, search_scale=1.25),
}
"""Model preset -> its tuned tracker settings (variant ``'tdpa'``); presets not listed use the paper's."""


def tracker_settings(preset: str | None, variant: str = 'tdpa') -> TrackerSettings:
    """The shipped tracker settings of model preset ``preset`` (None: an explicit config, the paper's) with
    the selection ``variant`` (one of ``VARIANTS``; the TDPA and gate settings are kept for every variant)."""
    if variant not in VARIANTS:
        raise ValueError(f'variant must be one of {VARIANTS}, got {variant!r}')
    base = TUNED.get(preset or '', TrackerSettings())
    return dataclasses.replace(base, variant=variant)


def tdpa_defaults(preset: str | None) -> TDPASettings:
    """The TDPA part of ``tracker_settings(preset)``."""
    return tracker_settings(preset).tdpa


def override(settings: TrackerSettings, items: list[str]) -> TrackerSettings:
    """``settings`` with ``NAME=VALUE`` changes; ``NAME`` is a field of ``TrackerSettings`` or a dotted path into
    it (``search_shift=0``, ``tdpa.w_ff=1.0``). Each value takes the type of the field it replaces.

    Raises:
        ValueError: an unknown name, a value of the wrong type, or one the settings refuse.
    """
    for item in items:
        name, sep, text = item.partition('=')
        if not sep:
            raise ValueError(f'expected NAME=VALUE, got {item!r}')
        *parents, leaf = name.strip().split('.')
        chain = [settings]
        for part in parents:
            chain.append(getattr(chain[-1], part, None))
            if not dataclasses.is_dataclass(chain[-1]):
                raise ValueError(f'unknown tracker setting {name!r}')
        holder = chain[-1]
        if leaf not in {f.name for f in dataclasses.fields(holder)}:
            raise ValueError(f'unknown tracker setting {name!r}')
        current = getattr(holder, leaf)
        try:
            value = type(current)(text.strip())
        except (TypeError, ValueError) as error:
            raise ValueError(f'{name}: {text!r} is not a {type(current).__name__}') from error
        updated = dataclasses.replace(holder, **{leaf: value})
        for parent, part in zip(reversed(chain[:-1]), reversed(parents), strict=True):
            updated = dataclasses.replace(parent, **{part: updated})
        settings = updated
    return settings
