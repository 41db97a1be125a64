"""What a set did, counted from its events: the end-of-run summary and ``inspect``'s report share this."""

from __future__ import annotations

from collections import Counter

from bergain_actors.core import events as ev


class Summary:
    def __init__(self) -> None:
        self.types: Counter[str] = Counter()
        self.bars_played = 0
        self.holds = 0
        """Engine stalls: bars the streamer played again because their plan was late (``BarHeld``)."""
        self.hold_steers = 0
        """Times a performer held the groove (``hold``)."""
        self.held_bars = 0
        """Bars played while a performer held the groove."""
        self._holding = False
        self.tempo_range = Tempos()
        self.seconds_played = 0.0
        """The bars played, each at its own tempo."""
        """The tempos the bars were played at."""
        self.underflows = 0
        self.xruns = 0
        """Of ``underflows``, the audio server's xrun notices soon after a callback of ours overran."""
        self.server_xruns = 0
        """The audio server's xrun notices while our audio was there and no callback of ours overran (not underflows):
        its own cycle, or our callback's thread, woken late by the host."""
        self.late_bars = 0
        self.silent_ms = 0.0
        self.device_losses: list[str] = []
        self.link_tempos: list[str] = []
        self.link_shifts = 0
        self._link_tempo = 0.0
        self.late_plans = 0
        self.directives = 0
        self.acted = 0
        self.checked = 0
        self.moved = 0
        self.critic_changes: list[str] = []
        self.swaps: list[str] = []
        self.crashes: list[str] = []
        self.restarts: list[str] = []
        self.fallbacks: list[str] = []
        self.provider_changes: list[str] = []
        self.brain_changes: list[str] = []
        self.lm_requests = 0
        self.lm_answers = 0
        self.lm_failures = 0
        self.phrase_decisions = 0
        self.choices: set[str] = set()
        """Request ids of LM choices (``bergain_actors.choice``)."""
        self.scored = 0
        self.unscored: dict[str, int] = {}
        """Provider → choices it answered without probabilities."""
        self.commands = 0
        self.rejected = 0
        self.steers = 0
        self.brief = ""
        """The brief's intents, as the set read them."""
        self.readings = 0
        self.read_by_lm = 0
        self.read_by_code: list[str] = []
        """Readings where code stood in for the LM, and why."""
        self.clips_fired = 0
        self.clips_late = 0
        self.live_bars_off: set[int] = set()
        """Bars Live did not play as planned (``LiveBarOff``)."""
        self.ableton_errors = 0
        self.scenes_fired = 0
        self.live_ops = 0
        self.live_ops_failed = 0
        self.unfit: list[str] = []
        """Roles with no sample in the set's key (they play their nearest ones)."""
        self.lacks: list[str] = []
        """Parts of the set the pack has nothing to make of (the set plays without them)."""
        self.skipped: list[str] = []
        """Files of the pack that could not be decoded (the set plays without them)."""
        self.lm_lacking: list[str] = []
        """The LM brain or critic that had no provider to ask, and what played instead."""
        self.excluded: dict[str, str] = {}
        """Providers the router could not use at all (unknown kind, missing key variable...) and why."""
        self.ableton_changes: list[str] = []
        """Live absent, lost, restored, reloaded: each with its bar and why."""
        self.end = ""
        self.name = ""
        self.bpm = 0.0
        self.total_bars = 0
        self.seconds_per_bar = 0.0

    def add(self, event: ev.Event) -> None:
        self.types[type(event).__name__] += 1
        match event:
            case ev.SetStarted():
                self.name, self.bpm, self.total_bars = event.name, event.bpm, event.total_bars
                self.seconds_per_bar = event.beats_per_bar * 60 / event.bpm
            case ev.KeyUnfit():
                self.unfit.append(event.role)
            case ev.PackLacks():
                self.lacks.append(f"no {event.need} for the {event.part}: {event.cost}")
            case ev.SampleSkipped():
                self.skipped.append(f"{event.sample} ({event.reason})")
            case ev.LMLacking():
                self.lm_lacking.append(f"{event.who()} had none to ask ({event.reason}): {event.plays} played")
            case ev.BarPlanned():
                self.tempo_range.planned(event.seq, event.plan.bpm)
            case ev.BarPlayed():
                self.bars_played = max(self.bars_played, event.bar + 1)
                bpm = self.tempo_range.played(event.plan_seq) or self.bpm
                self.seconds_played += self.seconds_per_bar * self.bpm / bpm if bpm else 0.0
                self.held_bars += self._holding
            case ev.SteerActed(intent="hold" | "resume"):
                self.hold_steers += event.intent == "hold" and not self._holding
                self._holding = event.intent == "hold"
            case ev.BarHeld():
                self.holds += 1
            case ev.AudioUnderflow():
                self.underflows += event.count
                self.xruns += event.xruns
                self.server_xruns += event.server_xruns
                if event.silent_ms > 0:
                    self.late_bars += 1
                    self.silent_ms += event.silent_ms
            case ev.LinkBeat():
                if self._link_tempo and event.tempo != self._link_tempo:
                    self.link_tempos.append(f"bar {event.bar}: {self._link_tempo:g} → {event.tempo:g} BPM")
                self._link_tempo = event.tempo
                self.link_shifts += abs(event.shift_ms) >= 1.0
            case ev.AudioDeviceChanged():
                self.device_losses.append(f"bar {event.bar}: {event.device} {event.status} ({event.reason})")
            case ev.RenderWorkerLost():
                self.device_losses.append(f"bar {event.bar}: render worker lost ({event.reason}), rendered in-process")
            case ev.LatePlan():
                self.late_plans += 1
            case ev.Directive():
                self.directives += 1
            case ev.DirectiveActed():
                self.acted += 1
            case ev.DirectiveMoved():
                self.checked += 1
                self.moved += event.moved
            case ev.ActorSwapped():
                self.swaps.append(f"bar {event.bar}: {event.slot} {event.old} → {event.new}")
            case ev.CriticChanged():
                self.critic_changes.append(f"bar {event.bar}: {event.old} → {event.new} ({event.reason})")
            case ev.ActorCrashed():
                self.crashes.append(f"bar {event.bar}: {event.slot} ({event.kind}) {event.error}")
            case ev.ActorRestarted():
                self.restarts.append(f"bar {event.bar}: {event.slot} ({event.kind}) attempt {event.attempt}")
            case ev.ActorFellBack():
                self.fallbacks.append(f"bar {event.bar}: {event.slot} {event.old} → {event.new} ({event.reason})")
            case ev.ProviderStateChanged():
                self.provider_changes.append(
                    f"bar {event.bar}: {event.provider} {event.old} → {event.new} ({event.reason})"
                )
            case ev.ProviderHealth():
                self.excluded.update(event.excluded)
            case ev.BrainChanged():
                self.brain_changes.append(f"bar {event.bar}: {event.old} → {event.new} ({event.reason})")
            case ev.LMRequest():
                self.lm_requests += 1
                if event.score:
                    self.choices.add(event.request_id)
            case ev.LMResponse():
                self.lm_answers += 1
                if event.request_id in self.choices:
                    self.scored += bool(event.scores)
                    if not event.scores:
                        self.unscored.setdefault(event.provider, 0)
                        self.unscored[event.provider] += 1
            case ev.LMFailed():
                self.lm_failures += 1
            case ev.PhraseDecision():
                self.phrase_decisions += 1
            case ev.Control() | ev.ProviderControl() | ev.Steer() if event.source != "router":
                self.commands += 1
            case ev.CommandRejected():
                self.commands += event.source == "control"
                self.rejected += 1
            case ev.SteerActed():
                self.steers += 1
            case ev.IntentsRead():
                self.readings += 1
                self.read_by_lm += event.method == "lm"
                if event.fallback:
                    self.read_by_code.append(f"{event.text[:40]!r}: {event.fallback}")
                if event.origin == "brief":
                    shown = ", ".join(f"{i.kind}{':' + i.role if i.role else ''} {i.p:.2f}" for i in event.intents)
                    self.brief = f"{shown or 'no intent'} (read by {'the LM' if event.method == 'lm' else 'code'})"
            case ev.ClipFired():
                self.clips_fired += 1
            case ev.ClipLate():
                self.clips_late += 1
            case ev.LiveBarOff():
                self.live_bars_off.add(event.bar)
            case ev.AbletonError():
                self.ableton_errors += 1
            case ev.SceneFired():
                self.scenes_fired += 1
            case ev.AbletonOpDone():
                self.live_ops += 1
                self.live_ops_failed += event.status != "done"
            case ev.AbletonStatus() if event.state not in ("connected",):
                self.ableton_changes.append(f"bar {event.bar}: {event.state} ({event.detail})")
            case ev.SetEnded():
                self.end = event.reason

    def lines(self) -> list[str]:
        minutes = (self.seconds_played or self.bars_played * self.seconds_per_bar) / 60
        server = f"   server xruns {self.server_xruns} (not ours: audio ready, callback quick)"
        out = [
            f"set          {self.name or '?'} — {self.bars_played}/{self.total_bars} bars at"
            f" {self.tempo_range.describe(self.bpm)} BPM ({minutes:.1f} min){', ' + self.end if self.end else ''}",
            f"stalls       {self.holds} (bars the engine played again: plan late)   underflows {self.underflows}"
            f"{f' ({self.xruns} xruns: a callback of ours late)' if self.xruns else ''}"
            f"{server if self.server_xruns else ''}"
            f"   late bars {self.late_bars} ({self.silent_ms / 1000:.1f} s of silence)   late plans {self.late_plans}",
            f"performer    {self.hold_steers} holds, {self.held_bars} bars held",
            f"directives   {self.directives} given, {self.acted} answered; {self.moved} of {self.checked} checked"
            " moved their target",
        ]
        if self.brief:
            out.append(f"brief        {self.brief}")
        if self.readings:
            line = f"words        {self.readings} read as intents, {self.read_by_lm} by the LM"
            if self.read_by_code:
                why = "; ".join(self.read_by_code[:3])
                line += f"; {len(self.read_by_code)} by code because the LM could not: {why}"
            out.append(line)
        if self.unfit:
            out.append(f"off key      {', '.join(self.unfit)}: no sample fits the key; the nearest ones play")
        if self.lacks:
            out.append(f"pack lacks   {len(self.lacks)}: {'; '.join(self.lacks)}")
        if self.skipped:
            out.append(f"pack skipped {len(self.skipped)} unreadable: {'; '.join(self.skipped)}")
        out.extend(f"no LM        {lacking}" for lacking in self.lm_lacking)
        if self.excluded:
            why = "; ".join(f"{name}: {reason}" for name, reason in self.excluded.items())
            out.append(f"providers    {len(self.excluded)} excluded, the set could not use them: {why}")
        if self.commands:
            out.append(f"commands     {self.commands} given, {self.rejected} rejected; {self.steers} steers answered")
        if self.lm_requests:
            out.append(
                f"LM           {self.lm_requests} requests, {self.lm_answers} answered, {self.lm_failures} failed;"
                f" {self.phrase_decisions} phrase decisions"
            )
        if self.choices:
            unscored = ", ".join(f"{n} from {name}" for name, n in self.unscored.items())
            out.append(
                f"choices      {len(self.choices)} asked, {self.scored} scored by probabilities"
                + (f"; constrained answers (no probabilities): {unscored}" if unscored else "")
            )
        if self.types["AbletonStatus"]:
            out.append(
                f"Ableton      {self.clips_fired} clips fired, {self.clips_late} late, {self.scenes_fired} scenes"
                f" fired, {self.ableton_errors} errors from Live; {len(self.live_bars_off)} bars not played as"
                " planned"
                + (f"; {self.live_ops} tool operations, {self.live_ops_failed} failed" if self.live_ops else "")
            )
        for title, items in (
            ("crashes", self.crashes),
            ("restarts", self.restarts),
            ("actor fallbacks", self.fallbacks),
            ("swaps", self.swaps),
            ("brain changes", self.brain_changes),
            ("critic changes", self.critic_changes),
            ("circuit changes", self.provider_changes),
            ("device changes", self.device_losses),
            ("Live changes", self.ableton_changes),
        ):
            out.append(f"{title:<16} {len(items)}")
            out.extend(f"  {item}" for item in items[:20])
            if len(items) > 20:
                out.append(f"  … and {len(items) - 20} more")
        if self._link_tempo:
            changes, shifted = len(self.link_tempos), self.link_shifts
            out.append(f"link         {changes} tempo changes, {shifted} bars shifted onto the phase")
            out.extend(f"  {item}" for item in self.link_tempos[:20])
        out.append("events       " + ", ".join(f"{k} {v}" for k, v in sorted(self.types.items())))
        return out


class Tempos:
    """The lowest and highest tempo bars were played at (each bar's plan's, a glide's steps included)."""

    def __init__(self) -> None:
        self.low = 0.0
        self.high = 0.0
        self._plans: dict[int, float] = {}

    def planned(self, seq: int, bpm: float) -> None:
        self._plans[seq] = bpm

    def played(self, plan_seq: int) -> float | None:
        """The tempo the bar of plan ``plan_seq`` played at (None: a plan not seen)."""
        bpm = self._plans.get(plan_seq)
        for seq in [s for s in self._plans if s < plan_seq]:
            del self._plans[seq]
        if bpm is not None:
            self.low = min(self.low, bpm) if self.low else bpm
            self.high = max(self.high, bpm)
        return bpm

    def describe(self, fallback: float) -> str:
        """``128`` or ``128–136`` (the scenario's tempo before any bar played)."""
        if not self.high:
            return f"{fallback:g}"
        return f"{self.low:g}" if self.low == self.high else f"{self.low:g}–{self.high:g}"
