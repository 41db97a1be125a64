"""The OSC transport against the real AbletonOSC (upstream and the fork) on the simulated Live."""

from __future__ import annotations

import pytest
import trio

from bergain_actors.actors.ableton.live import has_browser
from bergain_actors.actors.ableton.osc import MAX_DATAGRAM, OscClient, OscError, chunk_notes, encode
from tests.ableton_peer import free_udp_port, peer_factory  # noqa: F401 - the fixture

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("fork", [False, True], ids=["upstream", "fork"])
def test_pipelined_queries_are_matched_by_address_and_ids(peer_factory, fork):  # noqa: F811
    peer = peer_factory(fork=fork)

    async def main():
        async with OscClient("127.0.0.1", peer.port, peer.reply_port, timeout=5) as osc:
            assert await osc.query("/live/test") == ("ok",)
            names = {}
            async with trio.open_nursery() as nursery:
                for t in range(4):

                    async def one(t=t):
                        names[t] = (await osc.query("/live/track/get/name", t))[0]

                    nursery.start_soon(one)
            return names

    names = trio.run(main)
    assert names == {0: "1-MIDI", 1: "2-MIDI", 2: "3-Audio", 3: "4-Audio"}


def test_live_errors_reach_on_push(peer_factory):  # noqa: F811
    peer = peer_factory()
    pushed = []

    async def main():
        async with OscClient(
            "127.0.0.1", peer.port, peer.reply_port, timeout=5, on_push=lambda a, x: pushed.append((a, x))
        ) as osc:
            osc.send("/live/song/set/tempo", "fast")
            assert await osc.query("/live/test") == ("ok",)  # the error delays the rest of that tick, in order

    trio.run(main)
    errors = [args[0] for address, args in pushed if address == "/live/error"]
    assert len(errors) == 1 and "did not match C++ signature" in errors[0]


def test_a_capability_probe_is_answered_not_pushed_as_an_error(peer_factory):  # noqa: F811
    """Upstream AbletonOSC has no browser API: its "unknown address" answers the probe (no browser) and is not an
    error from Live; the same error for an address nobody asked about still is one."""
    peer = peer_factory()
    pushed = []

    async def main():
        async with OscClient(
            "127.0.0.1", peer.port, peer.reply_port, timeout=5, on_push=lambda a, x: pushed.append((a, x))
        ) as osc:
            assert await has_browser(osc) is False
            assert await osc.query("/live/test") == ("ok",)
            assert not [x for a, x in pushed if a == "/live/error"], pushed
            osc.send("/live/browser/list_audio_effects")
            assert await osc.query("/live/test") == ("ok",)  # errors come in order, before this answer

    trio.run(main)
    errors = [args[0] for address, args in pushed if address == "/live/error"]
    assert errors == ["Unknown OSC address: /live/browser/list_audio_effects"], pushed


def test_a_query_nobody_answers_times_out_after_its_retries():
    port = free_udp_port()

    async def main():
        async with OscClient("127.0.0.1", port, free_udp_port(), timeout=0.05, retries=2) as osc:
            with pytest.raises(OscError) as info:
                await osc.query("/live/test")
            return osc.retried, osc.sent, info.value.kind

    assert trio.run(main) == (2, 3, "timeout")


def test_a_taken_reply_port_is_named():
    async def main():
        async with OscClient("127.0.0.1", 9, 0) as first:
            with pytest.raises(OscError, match=f"reply port {first.local_port} is taken"):
                async with OscClient("127.0.0.1", 9, first.local_port):
                    pass

    trio.run(main)


def test_big_note_lists_are_chunked_under_the_datagram_limit(peer_factory):  # noqa: F811
    peer = peer_factory(max_datagram=MAX_DATAGRAM)
    notes = [(36 + i % 48, (i % 64) / 16, 0.0625, 100, False) for i in range(1500)]
    chunks = chunk_notes([0, 0], notes)
    assert len(chunks) > 1
    assert all(len(encode("/live/clip/add/notes", c)) <= MAX_DATAGRAM for c in chunks)
    assert sum(len(c) - 2 for c in chunks) == 5 * len(notes)

    async def main():
        async with OscClient("127.0.0.1", peer.port, peer.reply_port, timeout=5) as osc:
            osc.send("/live/clip_slot/create_clip", 0, 0, 16.0)
            for args in chunks:
                osc.send("/live/clip/add/notes", *args)
            # read back in windows small enough for a 9216-byte reply: every note arrived
            count = 0
            for pitch in range(36, 84, 4):
                reply = await osc.query("/live/clip/get/notes", 0, 0, pitch, 4, -1.0, 32.0, ids=2)
                count += len(reply) // 5
            return count

    assert trio.run(main) == len(notes)
