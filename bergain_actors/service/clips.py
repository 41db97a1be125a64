"""Prompt → clip: code reads the prompt and writes candidate clips in the key (``music.clip``,
``music.clip_candidates``), the LM chooses among them by its calibrated probabilities (``choice``), and the clip goes
where the user asked: a layer of the running set from its next phrase, a clip in Ableton, or just the notes (the CLI
writes them to a MIDI file). Without an LM the prompt's words choose, and the reply says so."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, BinaryIO, Literal

import msgspec

from bergain_actors import choice
from bergain_actors.core import events as ev
from bergain_actors.music.clip import ClipError, ClipRequest, build_clip, parse_prompt
from bergain_actors.music.clip_candidates import Candidate, admissible, candidates, shortlist
from bergain_actors.music.clip_layer import PlayingClip, layer_at
from bergain_actors.music.midi_file import write_midi
from bergain_actors.music.plan import TICKS_PER_BEAT, BarPlan, Note
from bergain_actors.music.theory import set_theory
from bergain_actors.service.replies import ClipReply
from bergain_actors.service.session import NoRouter, Session

__all__ = ["ClipError", "make_clip"]

SYSTEM = "You choose MIDI clips for a techno set: the one that sounds most like what the producer asked for."
QUESTION = "Which clip fits the request best?"


def clip_ballot(
    prompt: str, options: tuple[Candidate, ...], *, orders: int = 2, calibrate: bool = True
) -> choice.Ballot:
    """The candidates put to an LM: how each sounds, under the producer's words."""
    return choice.ballot(
        [c.says for c in options],
        system=SYSTEM,
        context=f'The producer asks for: "{prompt}"',
        question=QUESTION,
        rng=random.Random(f"clip:{prompt}"),
        orders=orders,
        calibrate=calibrate,
    )


async def choose(
    session: Session, request: ClipRequest, prompt: str, options: tuple[Candidate, ...], timeout: float
) -> tuple[int, str, Any]:
    """(index into ``options``, how it was chosen, the LM's ``Choice`` over the shortlist or None). The words
    decide what they can (``shortlist``: the embedded 135M model chooses no better than chance among clip
    candidates, ``bench/bench_clips.py``); the LM chooses among what they leave open; when it cannot, the first
    of the shortlist, and the reply says so."""
    open_ = shortlist(options, request.style)
    if len(open_) == 1:
        return open_[0], "chosen by the words" if len(options) > 1 else "the only candidate the words allow", None
    try:
        shown = tuple(options[i] for i in open_)
        asked = await choice.ask(session, clip_ballot(prompt, shown), purpose="clip", timeout=timeout)
    except NoRouter:
        return open_[0], "chosen by keywords: this set has no LM", None
    if isinstance(asked, ev.LMFailed):
        return open_[0], f"chosen by keywords: no LM could answer ({asked.reason})", None
    picked, _ = asked
    if picked.index < 0:
        return open_[0], "chosen by keywords: the LM's answer named no candidate", None
    share = f" (p {picked.calibrated[picked.index]:.2f})" if picked.calibrated else ""
    how = f"chosen by {picked.provider}, {picked.method}{share}, among the {len(open_)} the words left open"
    return open_[picked.index], how, picked


async def make_clip(
    session: Session,
    prompt: str,
    *,
    target: Literal["set", "ableton", "none"] = "set",
    track: str = "",
    slot: int = -1,
    request_id: str = "",
    timeout: float = 60.0,
) -> ClipReply:
    """Write the candidates for ``prompt``, let the LM choose (waiting ``timeout`` seconds at most), and place the
    clip. Raises ``ClipError`` for a prompt that cannot become a clip."""
    request = parse_prompt(prompt)
    scenario = session.scenario
    if target == "set" and not session.plays:
        raise ClipError("target: no set is playing; use target 'none' (or the CLI's --midi)")
    theory = set_theory(scenario.seed, request.key or getattr(scenario, "key", None) or None)
    options = admissible(candidates(request.role, theory, request.bars), prompt)
    index, how, picked = await choose(session, request, prompt, options, timeout)
    if not request.in_key:
        how += "; every candidate is in key: none is chromatic"
    if request.bpm is not None:
        how += f"; {request.bpm:g} BPM: a clip has no tempo of its own, it plays at its set's (MIDI: the scenario's)"
    clip = build_clip(request, theory, options[index])
    reply = ClipReply(
        prompt,
        clip.role,
        clip.key,
        clip.bars,
        clip.in_beats(),
        candidate=options[index].name,
        sounds=options[index].says,
        how=how,
        choice=msgspec.to_builtins(picked) if picked is not None else None,
    )
    if target == "none":
        return reply
    added = session.publish(
        ev.ClipAdded(
            request_id=request_id,
            prompt=prompt,
            role=clip.role,
            bars=clip.bars,
            notes=clip.notes,
            key=clip.key,
            target=target,
            track=track,
            slot=slot,
            bar=max(session.view.bar, 0),
        )
    )
    move = session.bus.last.get(ev.MixerMove)
    start = move.args.get("from_bar") if isinstance(move, ev.MixerMove) and move.cause == added.seq else None
    return msgspec.structs.replace(reply, seq=added.seq, from_bar=start)


def clip_plans(notes: tuple[Note, ...], role: str, bars: int, bpm: float) -> list[BarPlan]:
    """A clip as bar plans holding only its note layer, so MIDI files and Ableton treat it as any set's bars."""
    clip = PlayingClip(role, notes, bars, 0)
    return [
        BarPlan(bar=bar, bpm=bpm, layers=(layer,))
        for bar in range(bars)
        if (layer := layer_at(clip, bar, 4 * TICKS_PER_BEAT, gain=1.0)) is not None
    ]


def write_clip_midi(result: dict[str, Any], bpm: float, out: Path | BinaryIO) -> None:
    """The clip ``make_clip`` returned, as a MIDI file with one track for its role."""
    notes = tuple(
        Note(n["pitch"], round(n["start"] * TICKS_PER_BEAT), max(1, round(n["length"] * TICKS_PER_BEAT)), n["velocity"])
        for n in result["notes"]
    )
    theory = set_theory(0, result["key"])
    write_midi(clip_plans(notes, result["role"], result["bars"], bpm), theory, out, name=result.get("prompt", ""))
