"""What a listener hears as one texture of the set, and how many different ones a set plays.

A texture is the set of groove layers sounding, each as (role, sample, pattern): another sample or another pattern
on a role is another texture, a level is not, and neither are the one-bar ornaments of the arrangement (fills,
risers, crashes). A layer on its way out still sounds until its level reaches zero at the end of a bar. A texture
counts as heard once it lasts ``HELD_BARS`` bars in a row: shorter, it is the seam of a crossfade, not a texture.

This is the one definition: the music benchmark counts the played plans with it, and the brains use it on the
mixer to prefer a mix not heard yet. Pure.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from bergain_actors.music.arrangement import ORNAMENTS
from bergain_actors.music.plan import BarPlan, Layer

HELD_BARS = 4
"""Bars a texture must last to count as heard: one steer-grid line."""

Texture = frozenset[tuple[str, str, str]]


def of_layers(layers: Iterable[Layer]) -> Texture:
    """The texture of these layers: (role, sample, pattern) of each groove layer still sounding at the bar's end."""
    return frozenset(
        (layer.role, layer.sample, layer.pattern)
        for layer in layers
        if (layer.gain if layer.gain_end is None else layer.gain_end) > 0 and layer.role not in ORNAMENTS
    )


def of_plan(plan: BarPlan) -> Texture:
    return of_layers(plan.layers)


def held(plans: Sequence[BarPlan]) -> list[tuple[Texture, int]]:
    """The textures in the order they played, each with the bars it lasted (consecutive equal bars merged)."""
    return [(texture, len(list(run))) for texture, run in itertools.groupby(of_plan(p) for p in plans)]


def distinct(plans: Sequence[BarPlan]) -> int:
    """How many different textures a listener heard: each lasting at least ``HELD_BARS`` bars somewhere."""
    return len({texture for texture, bars in held(plans) if bars >= HELD_BARS})


def distinct_role_sets(plans: Sequence[BarPlan]) -> int:
    """The coarser count: different sets of roles heard (a sample or pattern change is not counted)."""
    return len({frozenset(role for role, _, _ in texture) for texture, bars in held(plans) if bars >= HELD_BARS})
