"""Choosing among options with an LM, by its probabilities rather than its text.

A small model asked for an answer copies whatever its prompt shows it (an example answer, the first option). So
every choice an LM makes here is a *ballot*: the options are shown under one-token labels, in a few seeded orders
(and once with no content at all, to measure the model's bias for each label); the provider returns the
log-probability of each label as the next token; ``decide`` turns them into a distribution over the options with
the position bias divided out and picks with the caller's seeded RNG at the caller's temperature. Everything the
pick depends on is in the ``LMResponse`` (the log-probabilities) and the ``Choice`` the caller logs, so replay is
exact. A provider that gives no probabilities answers with a label (constrained where it can be); that answer is
taken as it is (``method = "constrained"``), and the router says so once per provider.

Use: ``b = ballot(...)``; emit ``request(b, ...)`` (an ``LMRequest``); on its ``LMResponse`` (or ``LMFailed``),
``decide(b, response, temperature, rng)``; put ``choice.logged()`` into the decision event. Without a
set, ``await ask(session, b, ...)`` does the same through ``service.session.router_session``. ``choice.cloze``
scores the options' own words instead of labels (the embedded LM only).
"""

from bergain_actors.choice import cloze
from bergain_actors.choice.ballot import LABELS, Ballot, ballot, prompts, request
from bergain_actors.choice.offline import ask
from bergain_actors.choice.pick import Choice, decide, distributions, label_in, pick, prior_of

__all__ = [
    "LABELS",
    "Ballot",
    "Choice",
    "ask",
    "ballot",
    "cloze",
    "decide",
    "distributions",
    "label_in",
    "pick",
    "prior_of",
    "prompts",
    "request",
]
