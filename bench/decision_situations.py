# ruff: noqa: E501
"""Situations for ``bench_decisions.py``, written for this project: a moment of a techno set, a menu of moves that
code made valid, and the moves a techno DJ would accept there (judged by hand, before any LM saw them).

One line per situation: ``S(brief, phase, energy, target, playing, critic, steer, menu, accepted)``. ``playing`` is
``role gain`` pairs; ``menu`` is ``label energy_after`` items (the label in the words the menu uses); ``accepted``
lists labels from the menu. Every third situation (``held_out``) is kept out of every prompt and tuning step.
"""

from __future__ import annotations

import msgspec

BRIEFS = {
    "dark": "Dark, hypnotic Berlin techno: patient builds, one change per phrase, a real breakdown.",
    "minimal": "minimal and sparse",
    "euphoric": "euphoric peak-time",
    "warehouse": "dark hypnotic warehouse",
}
OTHER_BRIEF = {"dark": "euphoric", "minimal": "euphoric", "euphoric": "minimal", "warehouse": "euphoric"}
"""The brief each situation is asked again with, to see whether the brief alone changes the choice."""


class Situation(msgspec.Struct, frozen=True):
    brief: str
    phase: str
    energy: float
    target: float
    playing: str
    critic: str
    steer: str
    menu: tuple[tuple[str, float], ...]
    accepted: tuple[str, ...]
    index: int = 0

    @property
    def held_out(self) -> bool:
        return self.index % 3 == 2

    @property
    def mixer(self) -> dict[str, dict[str, object]]:
        words = self.playing.replace(",", " ").split()
        return {role: {"gain": float(gain), "muted": False} for role, gain in zip(words[::2], words[1::2], strict=True)}


def S(
    brief: str, phase: str, energy: float, target: float, playing: str, critic: str, steer: str, menu: str, ok: str
) -> Situation:
    items = []
    for item in menu.split(";"):
        label, _, after = item.strip().rpartition(" ")
        items.append((label, float(after)))
    accepted = tuple(a.strip() for a in ok.split(";"))
    labels = {label for label, _ in items}
    assert set(accepted) <= labels, (accepted, labels)
    return Situation(BRIEFS[brief], phase, energy, target, playing, critic, steer, tuple(items), accepted)


_SITUATIONS = [
    # --- intro: a kick alone or nearly; the groove comes in layer by layer --------------------------------------
    S("dark", "intro", 0.18, 0.30, "kick 0.90", "", "",
      "add hihat 0.29; add synth 0.31; add fx 0.27; another kick sample (1) 0.18; add texture 0.24; add clap 0.30",
      "add hihat; add texture"),
    S("minimal", "intro", 0.18, 0.28, "kick 0.90", "", "",
      "add perc 0.26; add ride 0.30; add hihat 0.29; add synth 0.31; add bassline 0.33; add clap 0.30",
      "add hihat; add perc"),
    S("euphoric", "intro", 0.20, 0.35, "kick 0.90", "", "",
      "add hihat 0.31; add texture 0.26; another kick sample (1) 0.20; add fx 0.28; add ride 0.31; kick down to 0.80 0.17",
      "add hihat; add ride"),
    S("dark", "intro", 0.29, 0.35, "kick 0.90, hihat 0.50", "", "",
      "add bassline 0.41; add texture 0.34; hihat plays sixteenths 0.31; take hihat out 0.18; add synth 0.40; add perc 0.36",
      "add texture; add perc; hihat plays sixteenths"),
    S("warehouse", "intro", 0.30, 0.36, "kick 0.90, hihat 0.45", "", "",
      "add texture 0.35; add clap 0.38; hihat up to 0.55 0.32; add synth 0.41; add fx 0.35; another hihat sample (1) 0.30",
      "add texture; hihat up to 0.55; another hihat sample (1)"),
    S("dark", "intro", 0.30, 0.34, "kick 0.90, hihat 0.50", "", "hats out",
      "take hihat out 0.19; add texture 0.34; hihat down to 0.40 0.28; add perc 0.36; add bassline 0.41; hihat plays straight_8ths 0.30",
      "take hihat out; hihat down to 0.40"),
    S("minimal", "intro", 0.26, 0.32, "kick 0.90, perc 0.35", "", "",
      "add hihat 0.36; perc plays sparse_accent 0.25; add synth 0.38; add clap 0.34; perc up to 0.45 0.29; add fx 0.31",
      "add hihat; perc plays sparse_accent"),
    S("euphoric", "intro", 0.31, 0.38, "kick 0.90, hihat 0.57", "", "bring the bass in",
      "add bassline 0.44; add ride 0.37; add texture 0.35; hihat plays sixteenths 0.33; add fx 0.34; add clap 0.38",
      "add bassline"),
    S("dark", "intro", 0.22, 0.32, "kick 0.90", "energy_up", "",
      "add hihat 0.31; another kick sample (1) 0.22; kick down to 0.80 0.20; add texture 0.27; add fx 0.26; add ride 0.31",
      "add hihat; add ride; add texture"),
    S("warehouse", "intro", 0.33, 0.33, "kick 0.90, hihat 0.45, texture 0.30", "", "",
      "another texture sample (1) 0.33; hihat plays offbeat_16ths 0.34; add bassline 0.45; add synth 0.44; add clap 0.41; texture down to 0.20 0.31",
      "another texture sample (1); hihat plays offbeat_16ths"),
    # --- build: energy climbs toward the peak; tension, not everything at once ------------------------------------
    S("dark", "build", 0.42, 0.58, "kick 0.90, hihat 0.50, texture 0.30", "", "",
      "add bassline 0.55; take texture out 0.38; hihat down to 0.40 0.39; add perc 0.49; another kick sample (1) 0.42; texture plays sparse_accent 0.42",
      "add bassline; add perc"),
    S("euphoric", "build", 0.45, 0.60, "kick 0.90, hihat 0.57, bassline 0.60", "", "",
      "add synth 0.57; add clap 0.55; take bassline out 0.33; hihat down to 0.47 0.42; add ride 0.54; bassline plays gallop 0.46",
      "add synth; add clap; add ride"),
    S("minimal", "build", 0.40, 0.52, "kick 0.90, hihat 0.45, bassline 0.55", "", "",
      "add perc 0.47; add synth 0.52; add clap 0.48; take hihat out 0.32; bassline down to 0.45 0.37; add fx 0.45",
      "add perc; add clap"),
    S("dark", "build", 0.48, 0.60, "kick 0.90, hihat 0.50, bassline 0.60", "", "more tension",
      "hihat plays sixteenths 0.52; add perc 0.55; take bassline out 0.36; add texture 0.52; bassline down to 0.50 0.45; another hihat sample (1) 0.48",
      "hihat plays sixteenths; add perc"),
    S("warehouse", "build", 0.50, 0.62, "kick 0.90, hihat 0.50, bassline 0.65, perc 0.35", "", "",
      "add clap 0.58; perc up to 0.45 0.53; take perc out 0.44; add synth 0.59; bassline down to 0.55 0.47; perc plays rolling 0.51",
      "add clap; perc up to 0.45; perc plays rolling"),
    S("euphoric", "build", 0.52, 0.60, "kick 0.90, hihat 0.57, bassline 0.67, clap 0.45", "", "brighter",
      "add ride 0.58; add synth 0.60; take hihat out 0.42; bassline up to 0.77 0.56; add texture 0.55; clap down to 0.35 0.49",
      "add ride; add synth"),
    S("dark", "build", 0.55, 0.58, "kick 0.90, hihat 0.50, bassline 0.60, perc 0.40", "repetitive", "",
      "perc plays gallop 0.55; another perc sample (1) 0.55; add clap 0.62; take perc out 0.48; hihat plays offbeat_16ths 0.56; bassline up to 0.70 0.59",
      "perc plays gallop; another perc sample (1); hihat plays offbeat_16ths"),
    S("minimal", "build", 0.46, 0.50, "kick 0.90, hihat 0.45, bassline 0.55", "", "",
      "hihat plays offbeat_16ths 0.47; add synth 0.55; add clap 0.53; add fx 0.51; take bassline out 0.33; bassline plays gallop 0.47",
      "hihat plays offbeat_16ths; bassline plays gallop"),
    S("dark", "build", 0.62, 0.55, "kick 0.90, hihat 0.57, bassline 0.67, perc 0.42, clap 0.47", "", "",
      "take clap out 0.56; add synth 0.68; hihat up to 0.67 0.64; perc down to 0.32 0.59; add fx 0.66; clap plays push 0.62",
      "take clap out; perc down to 0.32"),
    S("euphoric", "build", 0.44, 0.62, "kick 0.90, hihat 0.57, bassline 0.60", "energy_up", "",
      "add clap 0.52; add synth 0.53; hihat down to 0.47 0.42; another kick sample (1) 0.44; add ride 0.51; take bassline out 0.31",
      "add clap; add synth; add ride"),
    S("warehouse", "build", 0.47, 0.56, "kick 0.90, hihat 0.45, bassline 0.65", "", "darker",
      "add texture 0.51; add ride 0.54; add synth 0.53; hihat down to 0.35 0.45; take hihat out 0.39; add clap 0.53",
      "add texture; hihat down to 0.35"),
    S("dark", "build", 0.50, 0.58, "kick 0.90, hihat 0.50, bassline 0.60, texture 0.30", "less_dense", "",
      "take texture out 0.47; add perc 0.56; add clap 0.57; add synth 0.57; texture up to 0.40 0.52; hihat plays sixteenths 0.53",
      "take texture out; hihat plays sixteenths"),
    # --- peak: full groove, energy high; colour and small lifts ---------------------------------------------------
    S("dark", "peak", 0.55, 0.80, "kick 0.90, hihat 0.57", "", "",
      "add bassline 0.70; take hihat out 0.40; hihat plays sixteenths 0.58; add texture 0.61; add clap 0.66; another kick sample (1) 0.55",
      "add bassline; add clap"),
    S("minimal", "peak", 0.72, 0.72, "kick 0.90, hihat 0.45, bassline 0.60, perc 0.35", "", "",
      "perc plays tresillo 0.72; add synth 0.79; add clap 0.77; take perc out 0.66; another bassline sample (1) 0.72; add ride 0.77",
      "perc plays tresillo; another bassline sample (1)"),
    S("euphoric", "peak", 0.70, 0.82, "kick 0.90, hihat 0.57, bassline 0.67, clap 0.47", "", "",
      "add synth 0.78; add ride 0.77; take clap out 0.64; add texture 0.74; bassline down to 0.57 0.66; clap plays sparse_accent 0.69",
      "add synth; add ride"),
    S("dark", "peak", 0.82, 0.80, "kick 0.90, hihat 0.57, bassline 0.67, perc 0.42, clap 0.47", "", "",
      "perc plays rolling 0.82; another clap sample (1) 0.82; add synth 0.88; take bassline out 0.66; add fx 0.85; hihat plays offbeat_16ths 0.83",
      "perc plays rolling; another clap sample (1); hihat plays offbeat_16ths"),
    S("warehouse", "peak", 0.78, 0.80, "kick 0.90, hihat 0.50, bassline 0.67, perc 0.40, texture 0.30", "repetitive", "",
      "perc plays syncopated_b 0.78; another texture sample (1) 0.78; add ride 0.84; take texture out 0.74; add synth 0.84; texture down to 0.20 0.76",
      "perc plays syncopated_b; another texture sample (1)"),
    S("euphoric", "peak", 0.80, 0.85, "kick 0.90, hihat 0.57, bassline 0.67, clap 0.47, synth 0.40", "", "more energy",
      "add ride 0.86; synth up to 0.50 0.83; take synth out 0.73; add fx 0.85; clap down to 0.37 0.77; bassline plays gallop 0.80",
      "add ride; synth up to 0.50; add fx"),
    S("dark", "peak", 0.85, 0.75, "kick 0.90, hihat 0.57, bassline 0.67, perc 0.42, clap 0.47, synth 0.40", "too_dense", "",
      "take synth out 0.78; take clap out 0.79; add fx 0.89; hihat up to 0.67 0.87; perc plays gallop 0.85; synth plays tresillo 0.85",
      "take synth out; take clap out"),
    S("minimal", "peak", 0.80, 0.72, "kick 0.90, hihat 0.45, bassline 0.60, perc 0.35, clap 0.47, synth 0.40", "", "",
      "take synth out 0.73; take clap out 0.74; add ride 0.85; add texture 0.83; perc up to 0.45 0.82; another synth sample (1) 0.80",
      "take synth out; take clap out"),
    S("dark", "peak", 0.76, 0.80, "kick 0.90, hihat 0.57, bassline 0.67, perc 0.42", "", "darker",
      "add texture 0.79; add ride 0.82; hihat down to 0.47 0.74; add clap 0.81; perc down to 0.32 0.73; add synth 0.82",
      "add texture; hihat down to 0.47; perc down to 0.32"),
    S("euphoric", "peak", 0.74, 0.80, "kick 0.90, hihat 0.57, bassline 0.67, perc 0.42", "", "brighter",
      "add ride 0.80; add synth 0.80; add texture 0.77; take hihat out 0.62; bassline up to 0.77 0.78; perc plays sparse_accent 0.72",
      "add ride; add synth"),
    S("warehouse", "peak", 0.80, 0.80, "kick 0.90, hihat 0.50, bassline 0.67, perc 0.40, clap 0.45", "", "",
      "clap plays push 0.80; another hihat sample (1) 0.80; add synth 0.86; take perc out 0.75; add ride 0.85; bassline up to 0.77 0.84",
      "clap plays push; another hihat sample (1)"),
    S("dark", "peak", 0.66, 0.82, "kick 0.90, hihat 0.57, bassline 0.67", "energy_up", "",
      "add clap 0.74; add perc 0.73; take bassline out 0.48; hihat plays sixteenths 0.69; another kick sample (1) 0.66; add texture 0.70",
      "add clap; add perc"),
    S("minimal", "peak", 0.70, 0.74, "kick 0.90, hihat 0.45, bassline 0.60, perc 0.35", "", "hats out",
      "take hihat out 0.60; hihat down to 0.35 0.67; add clap 0.75; perc plays gallop 0.71; add synth 0.77; another perc sample (1) 0.70",
      "hihat down to 0.35; take hihat out"),
    S("euphoric", "peak", 0.83, 0.85, "kick 0.90, hihat 0.57, bassline 0.67, clap 0.47, synth 0.45, ride 0.45", "", "",
      "synth plays dotted_8ths 0.83; another synth sample (1) 0.83; take ride out 0.78; add fx 0.87; clap down to 0.37 0.80; take synth out 0.75",
      "synth plays dotted_8ths; another synth sample (1); add fx"),
    # --- breakdown: the low end is gone; it breathes; tension rises toward the drop --------------------------------
    S("dark", "breakdown", 0.25, 0.30, "hihat 0.40, texture 0.40", "", "",
      "add synth 0.32; take texture out 0.15; texture up to 0.50 0.28; add fx 0.30; hihat plays sixteenths 0.27; add perc 0.31",
      "add synth; texture up to 0.50; add fx"),
    S("euphoric", "breakdown", 0.28, 0.35, "hihat 0.45, synth 0.40", "", "",
      "add texture 0.33; synth up to 0.50 0.32; take synth out 0.18; add ride 0.34; add fx 0.34; synth plays sparse_accent 0.26",
      "add texture; synth up to 0.50; add fx"),
    S("minimal", "breakdown", 0.22, 0.25, "perc 0.35, texture 0.30", "", "",
      "take perc out 0.14; texture plays sparse_accent 0.21; add synth 0.29; add hihat 0.30; add fx 0.27; another texture sample (1) 0.22",
      "another texture sample (1); texture plays sparse_accent; add fx"),
    S("dark", "breakdown", 0.35, 0.28, "hihat 0.50, texture 0.40, synth 0.40, perc 0.35", "", "",
      "take perc out 0.29; take hihat out 0.26; add fx 0.39; synth up to 0.50 0.38; add clap 0.40; perc plays rolling 0.35",
      "take perc out; take hihat out"),
    S("warehouse", "breakdown", 0.26, 0.32, "texture 0.45, synth 0.35", "", "more tension",
      "add fx 0.31; synth up to 0.45 0.30; add hihat 0.33; take texture out 0.16; add perc 0.32; synth plays tresillo 0.27",
      "add fx; synth up to 0.45; add hihat; add perc"),
    S("euphoric", "breakdown", 0.30, 0.32, "hihat 0.45, synth 0.45, texture 0.30", "repetitive", "",
      "synth plays dotted_8ths 0.30; another synth sample (1) 0.30; take texture out 0.26; add clap 0.37; hihat plays offbeat_16ths 0.31; add fx 0.35",
      "synth plays dotted_8ths; another synth sample (1); hihat plays offbeat_16ths"),
    S("dark", "breakdown", 0.24, 0.30, "texture 0.40, fx 0.35", "", "",
      "add hihat 0.33; add synth 0.31; take fx out 0.16; another fx sample (1) 0.24; texture down to 0.30 0.21; add ride 0.32",
      "add synth; add hihat"),
    S("minimal", "breakdown", 0.28, 0.24, "hihat 0.45, perc 0.35, texture 0.30", "less_dense", "",
      "take perc out 0.21; take texture out 0.24; add synth 0.35; perc plays rolling 0.29; add fx 0.33; hihat up to 0.55 0.31",
      "take perc out; take texture out"),
    S("dark", "breakdown", 0.26, 0.30, "hihat 0.40, texture 0.40", "", "drop it",
      "add synth 0.33; hihat plays sixteenths 0.28; add perc 0.31; take hihat out 0.17; add fx 0.31; texture down to 0.30 0.23",
      "hihat plays sixteenths; add perc; add fx"),
    S("euphoric", "breakdown", 0.27, 0.34, "synth 0.45, texture 0.35", "", "brighter",
      "add hihat 0.34; add ride 0.34; add fx 0.32; take synth out 0.14; texture down to 0.25 0.24; synth plays push 0.27",
      "add hihat; add ride; add fx"),
    # --- peak2: back in, bigger than the first peak --------------------------------------------------------------
    S("dark", "peak2", 0.60, 0.85, "kick 0.90, hihat 0.57, bassline 0.67", "", "",
      "add perc 0.68; add clap 0.69; take bassline out 0.42; hihat plays sixteenths 0.62; add texture 0.65; another kick sample (1) 0.60",
      "add perc; add clap"),
    S("euphoric", "peak2", 0.75, 0.88, "kick 0.90, hihat 0.57, bassline 0.67, clap 0.47, perc 0.42", "", "",
      "add synth 0.83; add ride 0.82; take perc out 0.69; add fx 0.81; bassline down to 0.57 0.70; clap plays push 0.75",
      "add synth; add ride"),
    S("minimal", "peak2", 0.72, 0.76, "kick 0.90, hihat 0.45, bassline 0.60, perc 0.35", "", "",
      "perc plays syncopated_a 0.72; add clap 0.78; add synth 0.79; take hihat out 0.62; add ride 0.78; bassline up to 0.70 0.76",
      "perc plays syncopated_a; bassline up to 0.70"),
    S("warehouse", "peak2", 0.84, 0.85, "kick 0.90, hihat 0.50, bassline 0.67, perc 0.40, clap 0.45, texture 0.30", "repetitive", "",
      "perc plays gallop 0.84; another bassline sample (1) 0.84; take texture out 0.80; add synth 0.90; hihat up to 0.60 0.86; clap down to 0.35 0.81",
      "perc plays gallop; another bassline sample (1)"),
    S("dark", "peak2", 0.92, 0.85, "kick 0.90, hihat 0.57, bassline 0.67, perc 0.42, clap 0.47, synth 0.40, ride 0.45", "too_dense", "",
      "take ride out 0.86; take synth out 0.85; add fx 0.95; perc plays rolling 0.92; hihat up to 0.67 0.94; another clap sample (1) 0.92",
      "take ride out; take synth out"),
    S("euphoric", "peak2", 0.78, 0.86, "kick 0.90, hihat 0.57, bassline 0.67, clap 0.47", "", "more energy",
      "add synth 0.85; add ride 0.84; add perc 0.84; take clap out 0.72; bassline down to 0.57 0.73; another kick sample (1) 0.78",
      "add synth; add ride; add perc"),
    S("dark", "peak2", 0.80, 0.85, "kick 0.90, hihat 0.57, bassline 0.67, perc 0.42", "", "darker",
      "add texture 0.83; add ride 0.86; hihat down to 0.47 0.78; add synth 0.86; take bassline out 0.62; perc plays tresillo 0.80",
      "add texture; hihat down to 0.47"),
    S("minimal", "peak2", 0.83, 0.76, "kick 0.90, hihat 0.45, bassline 0.60, perc 0.35, clap 0.47, synth 0.40", "", "",
      "take synth out 0.77; take clap out 0.78; add ride 0.88; add fx 0.87; perc up to 0.45 0.85; synth plays tresillo 0.83",
      "take synth out; take clap out"),
    S("warehouse", "peak2", 0.70, 0.85, "kick 0.90, hihat 0.50, bassline 0.67", "energy_up", "",
      "add perc 0.77; add clap 0.78; add texture 0.74; take hihat out 0.58; another bassline sample (1) 0.70; bassline down to 0.57 0.64",
      "add perc; add clap"),
    S("euphoric", "peak2", 0.86, 0.86, "kick 0.90, hihat 0.57, bassline 0.67, clap 0.47, synth 0.45, ride 0.45", "", "",
      "synth plays tresillo 0.86; another ride sample (1) 0.86; take clap out 0.80; add fx 0.90; take synth out 0.78; hihat down to 0.47 0.84",
      "synth plays tresillo; another ride sample (1)"),
    S("dark", "peak2", 0.85, 0.85, "kick 0.90, hihat 0.57, bassline 0.67, perc 0.42, clap 0.47", "", "breakdown now",
      "take bassline out 0.69; take clap out 0.79; take perc out 0.78; add synth 0.91; add ride 0.90; perc plays gallop 0.85",
      "take bassline out; take perc out; take clap out"),
    # --- outro: layers leave one by one; energy falls ------------------------------------------------------------
    S("dark", "outro", 0.75, 0.45, "kick 0.90, hihat 0.57, bassline 0.67, perc 0.42, clap 0.47", "", "",
      "take clap out 0.68; take perc out 0.67; add synth 0.81; hihat up to 0.67 0.77; add texture 0.78; perc plays rolling 0.75",
      "take clap out; take perc out"),
    S("euphoric", "outro", 0.70, 0.45, "kick 0.90, hihat 0.57, bassline 0.67, synth 0.45", "", "",
      "take synth out 0.62; take bassline out 0.52; add ride 0.76; add clap 0.76; synth up to 0.55 0.73; hihat plays sixteenths 0.71",
      "take synth out; take bassline out"),
    S("minimal", "outro", 0.55, 0.35, "kick 0.90, hihat 0.45, bassline 0.60", "", "",
      "take bassline out 0.38; bassline down to 0.50 0.50; add perc 0.61; add synth 0.62; hihat plays offbeat_16ths 0.56; add clap 0.61",
      "take bassline out; bassline down to 0.50"),
    S("warehouse", "outro", 0.62, 0.42, "kick 0.90, hihat 0.50, bassline 0.67, texture 0.30", "strip_back", "",
      "take texture out 0.58; take bassline out 0.45; add perc 0.68; add clap 0.69; texture up to 0.40 0.64; hihat up to 0.60 0.65",
      "take bassline out; take texture out"),
    S("dark", "outro", 0.45, 0.40, "kick 0.90, hihat 0.57, texture 0.30", "", "",
      "take texture out 0.41; hihat down to 0.47 0.43; add bassline 0.58; add synth 0.52; add clap 0.52; another texture sample (1) 0.45",
      "take texture out; hihat down to 0.47; another texture sample (1)"),
    S("euphoric", "outro", 0.60, 0.40, "kick 0.90, hihat 0.57, bassline 0.67, ride 0.45", "", "calm it down",
      "take ride out 0.54; take bassline out 0.43; add synth 0.67; add clap 0.66; hihat up to 0.67 0.62; ride plays offbeat_8ths 0.60",
      "take ride out; take bassline out"),
    S("dark", "outro", 0.50, 0.30, "kick 0.90, hihat 0.57, bassline 0.60", "energy_down", "",
      "take bassline out 0.34; bassline down to 0.50 0.46; add texture 0.53; add perc 0.56; hihat plays sixteenths 0.52; another kick sample (1) 0.50",
      "take bassline out; bassline down to 0.50"),
    S("minimal", "outro", 0.40, 0.30, "kick 0.90, hihat 0.45, perc 0.35", "", "",
      "take perc out 0.33; perc down to 0.25 0.37; add synth 0.47; add bassline 0.52; hihat plays sixteenths 0.42; add clap 0.46",
      "take perc out; perc down to 0.25"),
    S("euphoric", "outro", 0.66, 0.48, "kick 0.90, hihat 0.57, bassline 0.67, clap 0.47, synth 0.45", "", "",
      "take synth out 0.59; take clap out 0.60; add ride 0.72; add fx 0.70; bassline up to 0.77 0.70; another synth sample (1) 0.66",
      "take synth out; take clap out"),
    S("warehouse", "outro", 0.52, 0.40, "kick 0.90, hihat 0.50, bassline 0.60", "", "bass out",
      "take bassline out 0.36; bassline down to 0.50 0.48; add texture 0.55; add perc 0.58; hihat down to 0.40 0.49; add synth 0.59",
      "take bassline out; bassline down to 0.50"),
]  # fmt: skip

SITUATIONS = tuple(msgspec.structs.replace(s, index=i) for i, s in enumerate(_SITUATIONS))
