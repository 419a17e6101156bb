"""``soccer_server.inject(faults)`` with a real client, in thread and process mode."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("process", [False, True], ids=["thread", "process"])
def test_inject_with_a_real_client(downstream: pytest.Pytester, process: bool) -> None:
    # Given tests that inject faults into their server and watch a websocket-client consumer
    downstream.makepyfile(
        test_faults=f"""
        import json, urllib.error, urllib.request
        import pytest, websocket
        from harness.core.faults import Fault, FaultKind
        from harness.strategies import FaultTimeline

        pytestmark = pytest.mark.soccer_recording(process={process})

        def token(server):
            url = f"{{server.api_base}}/v1/ws/new/?t={{server.api_token}}"
            with urllib.request.urlopen(url, timeout=10) as answer:
                return json.loads(answer.read())["result"][0]

        def test_a_close_fault_reaches_the_client(soccer_server):
            ws = websocket.create_connection(token(soccer_server)["server"], timeout=10)
            assert soccer_server.inject([{{"kind": "close", "code": 4000, "reason": "bye"}}]) == 1
            opcode, data = ws.recv_data()
            assert opcode == websocket.ABNF.OPCODE_CLOSE
            assert int.from_bytes(data[:2], "big") == 4000 and data[2:] == b"bye"

        def test_a_rest_fault_until_reset(soccer_server):
            soccer_server.inject(FaultTimeline((Fault(FaultKind.REST_ERROR, status=503),)))
            with pytest.raises(urllib.error.HTTPError) as refused:
                token(soccer_server)
            assert refused.value.code == 503
            soccer_server.reset()
            assert token(soccer_server)["is_new"]

        def test_a_bad_timeline_is_one_line(soccer_server):
            soccer_server.inject({{"faults": [{{"kind": "drip"}}]}})
        """
    )
    # When run
    result = downstream.runpytest_subprocess()
    # Then the faults did what they say in either mode, and a bad one failed in one line
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*fault 0 (drip): missing field(s) rate*"])
