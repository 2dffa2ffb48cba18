"""The studio starts the node fork server when the designer opens, so its first preview does not pay for
the server's imports: the server is up at once, and the first node is forked from that same server."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tests.conftest import REPO


def test_warm_up_starts_the_fork_server_that_the_first_node_then_uses(tmp_path) -> None:
    # A process of its own: the test session's fork server may already be running.
    script = textwrap.dedent(
        """
        import time
        from multiprocessing import forkserver
        from pipelines import executor

        assert forkserver._forkserver._forkserver_pid is None
        started = time.perf_counter()
        executor.warm_up()
        returned = time.perf_counter() - started
        pid = forkserver._forkserver._forkserver_pid
        assert pid is not None and returned < 1.0, (pid, returned)  # it imports in the background
        process = executor._fork_context().Process(target=print, args=("node ran",))
        process.start(); process.join(60)
        assert process.exitcode == 0 and forkserver._forkserver._forkserver_pid == pid, "the warm server forked it"
        print("ok", round(returned, 3))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env=os.environ | {"PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]
