"""``rlm``: a DSPy RLM writes Python against DJ tools in a Monty sandbox, bar by bar, at the music's pace.

How it runs
    The conductor's ``run`` task starts a worker thread (``trio.to_thread.run_sync``) that loops over runs of the
    program (``program.py``) while the conductor says go. Every contact of the program with the world crosses back
    into trio with ``trio.from_thread.run`` and becomes an event published with source ``rlm`` (the worker):
    ``ToolCall`` for a DJ tool, ``LMRequest`` for every LM call (one dspy custom engine serves the main LM and
    ``llm_query``'s sub-LM, so no provider is ever called directly), ``RLMStep`` for each REPL step. The
    conductor answers tool calls inline, through the same ``self.move`` guardrails as every brain, with a
    ``ToolResult``; ``play(n)`` answers only once n more bars are planned (backpressure; offline, ``play`` is
    also what lets bars be planned at all, so a fast set moves at the program's pace), and at the set's end it
    answers with ``set_over``. Runs start with ``begin_run`` (its ``ToolResult`` carries the run number, the
    sandbox seed and a summary of the set so far: the program's inputs are logged answers too) and end with
    ``end_run`` (submitted, max_iters, lm failed, error). The sandbox has a turn time limit (a step looping
    forever gets a TimeoutError and the run goes on), a hard request timeout, a memory cap, a seeded ``random``,
    a frozen clock, and no files or network.

Falling back
    An ``LMFailed`` for one of the program's requests (no provider, or past its ``deadline_bar``, a phrase
    ahead) steps the brain down to ``phrase`` at once, and three runs in a row that play nothing do too; the
    phrase brain then steps down to autopilot if the LM keeps failing. The router reporting a provider healthy
    again brings the brain back to ``rlm`` and wakes the worker (see ``phrase.py``). Stopping the set cancels the
    worker's pending bridge call: the bridge turns that into ``Halt`` (a BaseException dspy does not catch;
    Monty swallows it inside a tool, so the next call raises it again), ``forward()`` unwinds, the sandbox's
    processes are shut down, and the thread ends before the log is closed.

How ``replay --verify`` checks it
    The worker's events arrive in the log at timing-dependent positions, so they are recorded inputs, not
    outputs: their source ``rlm`` is not a deciding slot, and verify re-publishes them at their logged seq.
    Verify thus re-runs the conductor inline on the recorded tool calls, and checks every ``ToolResult``,
    ``MixerMove`` and plan it produces. The program itself is checked after the log is replayed
    (``replay_finished``, ``verify.py``): each recorded run is re-run in the verifying thread with a
    ``ReplayBridge`` that serves the logged tool results and LM answers (matched by request content and
    occurrence) and checks that the program makes the same tool calls and steps in the same order and the same
    LM requests. A changed prompt, tool or signature shows up as a divergence at the seq of the first logged
    event the program no longer reproduces.
"""

from bergain_actors.actors.conductor.rlm.conductor import RLMConductor

__all__ = ["RLMConductor"]
