"""The session picker of `rigscope replay` (no SESSION): the catalog, filtering as you type, Enter opens."""

from __future__ import annotations

import json
import shutil

from recordings.catalog import catalog
from tests.replay.conftest import run, type_text, wait_sync, wait_until
from tui.picker import COLUMNS, PickerApp

SESSIONS = (("20260101-000000-alpha", "alpha-box"), ("20260102-000000-beta", "beta-box"),
            ("20260103-000000-gamma", "gamma-box"))
BROKEN = "20260104-000000-broken"


def make_root(recorded, root):
    for name, host in SESSIONS:
        target = root / name
        shutil.copytree(recorded, target)
        meta = json.loads((target / "meta.json").read_text())
        meta["session_id"] = name
        meta["host"]["hostname"] = host
        (target / "meta.json").write_text(json.dumps(meta))
    (root / BROKEN).mkdir()
    (root / BROKEN / "meta.json").write_text('{"session_id": "x", garbage')
    return root


def test_catalog_lists_sessions_newest_first_and_a_corrupt_one(recorded, tmp_path):
    root = make_root(recorded, tmp_path / "sessions")
    rows = catalog(root)
    assert [r["id"] for r in rows] == [BROKEN, *(name for name, _ in reversed(SESSIONS))]
    broken = rows[0]
    assert broken["status"] == "corrupt" and "meta.json" in broken["error"] and broken["path"] == str(root / BROKEN)
    for row, (name, host) in zip(rows[1:], reversed(SESSIONS)):
        assert row["status"] == "complete" and row["host"] == host and row["path"] == str(root / name)
        assert row["samples"] == 960 and row["collapses"] == 2 and row["tier"] == "nvidia_h100"
        assert row["duration_s"] == 479.5
    assert catalog(tmp_path / "nowhere") == []


def test_typing_filters_the_table_and_enter_opens_the_match(recorded, tmp_path):
    root = make_root(recorded, tmp_path / "sessions")
    app = PickerApp(catalog(root))

    async def body():
        async with app.run_test(size=(160, 30)) as pilot:
            table = app.query_one("#sessions")
            assert table.row_count == 4 and [str(c.label) for c in table.columns.values()] == list(COLUMNS)
            assert app.focused is app.query_one("#filter")
            await type_text(pilot, "box")
            assert table.row_count == 3 and all("box" in r["host"] for r in app.picker.shown)
            await type_text(pilot, " BETA")  # every word, any case
            assert table.row_count == 1 and app.picker.shown[0]["id"] == "20260102-000000-beta"
            assert str(table.get_row_at(0)[1]) == "20260102-000000-beta"
            await pilot.press("enter")
        assert app.return_value == str(root / "20260102-000000-beta")
    run(body)


def test_arrows_choose_among_the_matches(recorded, tmp_path):
    root = make_root(recorded, tmp_path / "sessions")
    app = PickerApp(catalog(root))

    async def body():
        async with app.run_test(size=(160, 30)) as pilot:
            table = app.query_one("#sessions")
            await type_text(pilot, "box")
            assert [r["host"] for r in app.picker.shown] == ["gamma-box", "beta-box", "alpha-box"]
            for _ in range(5):
                if table.cursor_row == 2:
                    break
                await pilot.press("down")
            assert table.cursor_row == 2
            await pilot.press("enter")
        assert app.return_value == str(root / "20260101-000000-alpha")
    run(body)


def test_no_match_and_a_corrupt_session_do_not_open(recorded, tmp_path):
    root = make_root(recorded, tmp_path / "sessions")
    app = PickerApp(catalog(root))
    seen = []
    notify = app.notify
    app.notify = lambda message, *a, **k: (seen.append((str(message), k.get("severity"))), notify(message, *a, **k))

    async def body():
        async with app.run_test(size=(160, 30)) as pilot:
            table = app.query_one("#sessions")
            await type_text(pilot, "nothing like this")
            assert table.row_count == 0
            await pilot.press("enter")
            await pilot.pause()
            assert seen[-1] == ("no session matches", "warning") and app.is_running
            filter_input = app.query_one("#filter")
            filter_input.value = ""
            await pilot.pause()
            assert table.row_count == 4
            await type_text(pilot, "corrupt")
            assert table.row_count == 1 and app.picker.shown[0]["id"] == BROKEN
            assert table.get_row_at(0)[COLUMNS.index("status")].plain == "corrupt"
            assert table.get_row_at(0)[COLUMNS.index("why")].plain.startswith("meta.json: unreadable (")
            await pilot.press("enter")
            await pilot.pause()
            assert seen[-1][1] == "error" and "meta.json" in seen[-1][0] and app.is_running
            await pilot.press("escape")
        assert app.return_value is None
    run(body)


def test_notes_with_markup_and_escapes_show_as_typed(recorded, tmp_path):
    root = make_root(recorded, tmp_path / "sessions")
    meta_path = root / SESSIONS[0][0] / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["notes"] = "[/][bold]x\x1b[2J"  # from an imported file: a closing tag alone breaks Textual markup
    meta_path.write_text(json.dumps(meta))
    app = PickerApp(catalog(root))

    async def body():
        async with app.run_test(size=(160, 30)) as pilot:
            table = app.query_one("#sessions")
            await pilot.pause()
            notes = [str(table.get_row_at(i)[COLUMNS.index("notes")]) for i in range(table.row_count)]
            assert "[/][bold]x\\x1b[2J" in notes
            await pilot.press("escape")
    run(body)


class SlowOpener:
    """An opener that holds each open until released, and counts what it opened and what was closed."""

    def __init__(self) -> None:
        import threading

        self.release = threading.Event()
        self.opened: list[SlowOpener.Source] = []

    class Source:
        closed = False

        def close(self) -> None:
            self.closed = True

    def __call__(self, path):
        assert self.release.wait(10), "the test never released the open"
        source = self.Source()
        self.opened.append(source)
        return source


def test_a_second_enter_while_opening_opens_nothing_more(recorded, tmp_path):
    root = make_root(recorded, tmp_path / "sessions")
    opener = SlowOpener()
    app = PickerApp(catalog(root), opener)
    seen = []
    notify = app.notify
    app.notify = lambda message, *a, **k: (seen.append(str(message)), notify(message, *a, **k))

    async def body():
        async with app.run_test(size=(160, 30)) as pilot:
            await type_text(pilot, "alpha")
            await pilot.press("enter")
            await pilot.press("enter")
            await pilot.pause()
            assert seen[-1] == "still opening the session chosen first…"
            opener.release.set()
            await wait_until(pilot, lambda: not app.is_running, what="the app exits with the opened source")
    run(body)
    assert len(opener.opened) == 1 and app.return_value is opener.opened[0] and not opener.opened[0].closed


def test_escape_while_opening_closes_what_the_open_makes(recorded, tmp_path):
    """Over the live dashboard: the picker is gone at once, and the source opened after it is closed, not shown."""
    from textual.app import App

    from tui.picker import PickerScreen

    root = make_root(recorded, tmp_path / "sessions")
    opener = SlowOpener()
    picked = []
    app = App()

    async def body():
        async with app.run_test(size=(160, 30)) as pilot:
            app.push_screen(PickerScreen(catalog(root), opener), picked.append)
            await pilot.pause()
            await type_text(pilot, "alpha")
            await pilot.press("enter")
            await pilot.press("escape")
            await pilot.pause()
            assert picked == [None] and not isinstance(app.screen, PickerScreen)
            opener.release.set()
            await wait_until(pilot, lambda: opener.opened and opener.opened[0].closed, what="the late source closed")
            assert picked == [None]
    run(body)


def test_escape_while_opening_from_the_replay_command_returns_none_and_closes_the_source(recorded, tmp_path):
    root = make_root(recorded, tmp_path / "sessions")
    opener = SlowOpener()
    app = PickerApp(catalog(root), opener)

    async def body():
        async with app.run_test(size=(160, 30)) as pilot:
            await type_text(pilot, "alpha")
            await pilot.press("enter")
            await pilot.press("escape")
            opener.release.set()  # the app's exit waits for the worker
    run(body)
    assert app.return_value is None
    wait_sync(lambda: opener.opened and opener.opened[0].closed, what="the late source closed")
