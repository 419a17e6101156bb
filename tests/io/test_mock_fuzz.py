"""The mock serving ``harness fuzz``'s hostile stream: a client that gets every malformed frame
(and throws each back as a command) does not hurt the server, which keeps serving another."""

from __future__ import annotations

import trio

from harness.core.fuzz import FuzzOptions, fuzz_feed
from harness.core.protocol import classify_frame
from harness.core.schedule import ReplayOptions
from harness.server import ServerConfig, open_mock_server
from tests.io.mock_helpers import ask, connect, new_token, receive_json, rest_get, sub

FEED = fuzz_feed(FuzzOptions(seed=21, profile="hostile", rate=1000), 2 * 10**9)


async def test_the_server_survives_the_hostile_profile_and_keeps_serving_another_client() -> None:
    config = ServerConfig(replay=ReplayOptions(speed=None))
    got: list[bytes | str] = []
    async with open_mock_server(FEED, config) as server:
        # Given a client subscribed to MAIN and STATS that throws every malformed frame back
        # (as a command; the huge ones excepted, the server would close it with 1009)
        first = await new_token(server, "first")
        async with connect(first["server"]) as hostile:
            await ask(hostile, sub("MAIN"))
            await ask(hostile, sub("STATS"))
            with trio.fail_after(30):
                while len(got) < 300:
                    message = await hostile.get_message()
                    info = classify_frame(message)
                    if info is not None and info.type == "error":
                        continue  # the server's answer to a frame thrown back
                    got.append(message)
                    if not (info and info.is_event) and len(message) < 65_536:
                        await hostile.send_message(message)
            # When another client comes meanwhile, Then it is served as usual
            second = await new_token(server, "second")
            async with connect(second["server"]) as calm:
                reply = await ask(calm, sub("MAIN_REALTIME"))
                assert reply["type"] == "subscribed"
                assert (await ask(calm, '{"action":"ping"}'))["type"] in ("pong", "event")
                assert json_event(await receive_json(calm))
            assert (await rest_get(server, "/v1/token/status/")).status_code == 200
        assert server.stats.internal_errors == 0
    garbage = [m for m in got if not ((i := classify_frame(m)) and i.is_event)]
    assert garbage  # the malformed frames did reach the client


def json_event(frame: dict[str, object]) -> bool:
    return frame.get("channel") == "MAIN_REALTIME" or frame.get("type") == "pong"
