"""A set told in human lines: one line per decision, not one per event. Pure: events in, lines out.

The moves a brain makes for a bar are gathered and told with that bar's plan (phase, energy against target), so
a phrase reads as one line. Refused moves are told only when ``verbose``.
"""

from __future__ import annotations

from bergain_actors.core import events as ev

LIGHTS = {"closed": "●", "half_open": "◐", "open": "○"}


def describe_move(move: ev.MixerMove) -> str:
    """``add bassline``, ``fader kick 0.8``, ``pattern hihat sixteenths``..."""
    args = move.args
    detail = {
        "fader": f" {args.get('gain')}",
        "pattern": f" {args.get('name')}",
        "breakdown": f" {args.get('bars')} bars",
    }.get(move.move, "")
    return " ".join(p for p in (move.move, move.role) if p) + detail


def first_line(text: str, width: int = 100) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


class Narrator:
    def __init__(self, verbose: bool = False) -> None:
        self.verbose = verbose
        self.moves: list[ev.MixerMove] = []
        self.steers: dict[int, ev.Steer] = {}
        self.decided: dict[int, str] = {}
        """An LM brain's decision for a bar, told with that bar's moves."""

    def lines(self, event: ev.Event) -> list[str]:
        """What to tell about ``event`` (often nothing: it is gathered into a later line)."""
        match event:
            case ev.MixerMove():
                if event.result.startswith(("ok", "clamped")) or self.verbose:
                    self.moves.append(event)
                return []
            case ev.BarPlanned():
                moves, self.moves = [m for m in self.moves if m.bar == event.bar], []
                decided = self.decided.pop(event.bar, "")
                if not moves and not decided:
                    return []
                plan = event.plan
                told = [describe_move(m) + ("" if m.result.startswith("ok") else f" ({m.result})") for m in moves]
                brain = f"LM ({decided}): " if decided else ""
                head = f"bar {event.bar:>4} · {plan.phase:<9} energy {plan.energy:.2f}/{plan.target:.2f} · "
                return [head + brain + (", ".join(told) or "no change")]
            case ev.PhaseChanged():
                return [f"── {event.phase} from bar {event.bar} (target energy {event.target_energy:.2f}) ──"]
            case ev.Directive():
                return [f"bar {event.bar:>4} · critic: {event.text}"]
            case ev.DirectiveActed():
                return [f"bar {event.bar:>4} · answered {event.directive}: {event.action}"]
            case ev.Steer():
                self.steers[event.seq] = event
                return []
            case ev.SteerActed():
                steer = self.steers.pop(event.cause, None)
                said = f'"{steer.text}"' if steer is not None else event.intent
                return [f"bar {event.bar:>4} · you: {said} → {event.intent}: {event.action}"]
            case ev.StopPlanned():
                return [f"stopping: outro from bar {event.from_bar}, the set ends at bar {event.end_bar}"]
            case ev.CommandRejected():
                return [f"✗ rejected: {event.command}: {event.reason}"]
            case ev.PhraseDecision():
                self.decided[event.bar] = first_line(_decision(event.decision), 60)
                return []
            case ev.RLMStep():
                code = len(event.code.strip().splitlines())
                return [f"rlm step {event.step}: {first_line(event.reasoning, 90)} (code: {code} lines, folded)"]
            case ev.BrainChanged():
                return [f"brain {event.old} → {event.new}: {event.reason}"]
            case ev.ProviderStateChanged():
                light = LIGHTS.get(event.new, "?")
                return [f"provider {event.provider} {light} {event.old} → {event.new}: {event.reason}"]
            case ev.LMAnswerCapped():
                return [f"{event.provider} answered {event.chars} characters; kept the first {event.kept}"]
            case ev.LocalServerChanged():
                return [f"local LM {event.status}{': ' + event.detail if event.detail else ''}"]
            case ev.BarHeld():
                return [f"bar {event.bar:>4} · held: its plan came late, the groove played again"]
            case ev.AudioUnderflow():
                said = [f"{event.count} audio underflow(s)"] * bool(event.count)
                said += [f"{event.server_xruns} audio server xrun(s), not ours"] * bool(event.server_xruns)
                return [f"bar {event.bar:>4} · {'; '.join(said)}"]
            case ev.ActorCrashed():
                return [f"bar {event.bar:>4} · {event.slot} ({event.kind}) crashed: {event.error}"]
            case ev.ActorRestarted():
                return [f"bar {event.bar:>4} · {event.slot} restarted (attempt {event.attempt})"]
            case ev.ActorFellBack():
                return [f"bar {event.bar:>4} · {event.slot} fell back {event.old} → {event.new}: {event.reason}"]
            case ev.ActorSwapped():
                return [f"bar {event.bar:>4} · {event.slot} swapped {event.old} → {event.new}"]
            case ev.AudioStarted():
                return [f"audio: {event.device}{' (' + event.detail + ')' if event.detail else ''}"]
            case ev.AbletonStatus():
                return [f"bar {event.bar:>4} · Ableton {event.state}{': ' + event.detail if event.detail else ''}"]
            case ev.AbletonError():
                return [f"bar {event.bar:>4} · Live said: {first_line(event.message)}"]
            case ev.ClipLate():
                return [f"bar {event.bar:>4} · {event.role} clip late ({event.reason}): its last clip played on"]
            case ev.LiveBarOff():
                return [f"bar {event.bar:>4} · Live did not play {event.role} as planned: {event.reason}"]
            case ev.SceneFired():
                return [f"bar {event.bar:>4} · scene {event.name}"]
            case ev.SurfaceStarted():
                return [f"{event.kind} control surface listening on {event.address}"]
        return []


def _decision(decision: dict[str, object]) -> str:
    """A phrase decision in a few words: its plain fields (lists such as the menu offered are left out)."""
    parts = [
        f"{key} {value}" for key, value in decision.items() if isinstance(value, str | int | float) and value != ""
    ]
    return "; ".join(parts) or "no change"
