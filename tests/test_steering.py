"""What a performer's words mean to the brains that read no language: the intent table, pure."""

from __future__ import annotations

import pytest

from bergain_actors.music.steering import Intent, intent_of


@pytest.mark.parametrize(
    ("words", "intent"),
    [
        ("darker", Intent("darker")),
        ("go deeper", Intent("darker")),
        ("brighter please", Intent("brighter")),
        ("more tension", Intent("energy_up")),
        ("less tension", Intent("energy_down")),
        ("calm it down", Intent("energy_down")),
        ("breakdown now", Intent("breakdown")),
        ("bring it back", Intent("drop")),
        ("fade the kick out pls", Intent("mute", "kick")),
        ("hats out", Intent("mute", "hihat")),
        ("no bass", Intent("mute", "bassline")),
        ("bring in the claps", Intent("bring_in", "clap")),
        ("more percussion", Intent("bring_in", "perc")),
        ("something different", Intent("vary")),
        ("purple monkey dishwasher", Intent("unknown")),
    ],
)
def test_common_intents(words, intent):
    assert intent_of(words) == intent
