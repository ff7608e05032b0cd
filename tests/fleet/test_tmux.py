"""End to end: `rigscope fleet` in a real terminal (tmux) on simulated nodes, keys sent as a user types them."""

from __future__ import annotations

import shlex
import sys

from tests.conftest import REPO
from tests.fleet.servers import address
from tests.tmux import needs_tmux, tmux


@needs_tmux
def test_fleet_screen_in_tmux(nodes_factory):
    server = nodes_factory(5)
    server.take_down(address(4))
    args = [sys.executable, "-m", "rigscope", "fleet", "--targets", ",".join(server.targets()), "--timeout", "2",
            "--refresh", "2"]
    # The pane's own status is rigscope's: tmux sometimes shows a dead pane without what it printed last.
    command = f"cd {shlex.quote(str(REPO))} && env -u NO_COLOR TERM=xterm-256color {shlex.join(args)}; " \
              's=$?; echo "exit status $s"; exit $s'
    with tmux() as term:
        term.start(command, width=170, height=30)
        screen = term.wait_screen(lambda s: "nodes 4 up / 1 down · 32 GPUs" in s, "the totals")
        assert all(address(k) in screen for k in range(5)) and "STALE" in screen
        term.keys("/")
        term.wait_screen(lambda s: "filter: node" in s, "the filter line")  # typed before it opens, keys go to the table
        term.keys("127.0.0.3", literal=True)
        term.wait_screen(lambda s: "1/5 nodes" in s, "the table filtered while typing")
        term.keys("Enter")
        # The table has the keys back once the footer offers to open a node; an Enter before went to the filter.
        term.wait_screen(lambda s: "1/5 nodes" in s and "Open node" in s, "the filtered table")
        term.keys("Enter")  # opens the only node left
        term.wait_screen(lambda s: "GPU   7" in s and "rigscope" in s, "the node's GPUs")
        term.keys("Escape")
        term.wait_screen(lambda s: "1/5 nodes" in s, "back on the table")
        term.keys("q")
        ended = term.wait_screen(lambda s: "exit status" in s or "Pane is dead" in s, "the command to exit", 20)
        assert "exit status 0" in ended or "Pane is dead (status 0," in ended
