"""Prompt → clip: the LM writes notes to a schema (a grammar on the embedded llama.cpp), code reads the prompt,
validates and repairs the answer (``music.clip``), and the clip goes where the user asked: a layer of the running
set from its next phrase, a clip in Ableton, or just the notes (the CLI writes them to a MIDI file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO, Literal

import msgspec

from bergain_actors.core import events as ev
from bergain_actors.music.clip import ClipError, clip_from_answer, grammar, parse_prompt, prompt_text
from bergain_actors.music.clip_layer import PlayingClip, layer_at
from bergain_actors.music.midi_file import write_midi
from bergain_actors.music.plan import TICKS_PER_BEAT, BarPlan, Note
from bergain_actors.music.theory import set_theory
from bergain_actors.service.replies import ClipReply
from bergain_actors.service.session import Session

__all__ = ["ClipError", "make_clip"]

TOKENS_PER_BAR = 32
"""About three notes of ~11 tokens a bar: SmolLM2 writes ~25 tokens a second under the grammar here, so a 4-bar
clip takes ~5 s; what it sketches the repair keeps (an answer that covers fewer bars is repeated), where too little
is left it composes from theory, and a cut-off answer is closed after its last whole note."""

CREATIVE = 0.8
"""Greedy decoding makes a small model repeat one note; the answer is logged, so replays do not depend on it."""

SYSTEM = "You write MIDI clips for a techno set. You answer with JSON only."


def close_cut_answer(text: str) -> str:
    """An answer cut off by the token limit, closed after its last complete ``[pitch,start,length,velocity]``
    note (the grammar has no spaces)."""
    end = text.rfind("]")
    if text.startswith('{"notes":[[') and not text.rstrip().endswith("]}") and end > len('{"notes":['):
        return text[: end + 1] + "]}"
    return text


async def make_clip(
    session: Session,
    prompt: str,
    *,
    target: Literal["set", "ableton", "none"] = "set",
    track: str = "",
    slot: int = -1,
    request_id: str = "",
) -> ClipReply | ev.LMFailed:
    """Ask the LM for the clip ``prompt`` describes and place it. Raises ``ClipError`` for a prompt or an answer
    that cannot become a clip, ``NoRouter`` when there is no LM."""
    request = parse_prompt(prompt)
    scenario = session.scenario
    if target == "set" and not session.plays:
        raise ClipError("target: no set is playing; use target 'none' (or the CLI's --midi)")
    theory = set_theory(scenario.seed, request.key or getattr(scenario, "key", None) or None)
    bpm = session.view.bpm or scenario.bpm
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": prompt_text(request, theory, bpm, compact=True)},
    ]
    answer = await session.ask_lm(  # no schema: the grammar never lets a small model stop, so answers are cut
        "clip",  # off, which the router would count as a failure; the repair closes them and the prompt asks for JSON
        messages,
        grammar=grammar(request.role, theory, request.bars, request.in_key, compact=True),
        max_tokens=TOKENS_PER_BAR * request.bars,
        temperature=CREATIVE,
    )
    if isinstance(answer, ev.LMFailed):
        return answer
    clip = clip_from_answer(close_cut_answer(answer.text), request, theory)
    reply = ClipReply(
        prompt, clip.role, clip.key, clip.bars, clip.in_beats(), clip.repairs, answer.provider, answer.seq
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
