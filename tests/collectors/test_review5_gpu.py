"""The GPU path's review: what a user sees of a GPU whose name has odd characters, and of readings
NVML gives that cannot be true (scripted NVML; the real pynvml over the mock is tests/nvml_mock)."""

from __future__ import annotations

from collectors.fake_nvml import FakeGpu, FakeNvml
from rigscope.app_factory import build_app
from rigscope.live import LiveSource
from rigscope.monitor import MonitorConfig
from tests.tui.conftest import panel_text, run, screen_text, wait_until

ODD_NAME = "NVIDIA H100 [bold]x[/]\x1b[2J\x07 ü"


def test_a_gpu_name_with_control_characters_and_markup_shows_as_plain_text(tmp_path):
    source = LiveSource(MonitorConfig(source="system", mode="auto", hz=5, duration_s=None, directory=str(tmp_path)),
                        nvml_backend=FakeNvml([FakeGpu(name=ODD_NAME)]))
    app = build_app(source)

    async def body():
        async with app.run_test(size=(160, 50)) as pilot:
            await wait_until(pilot, lambda: source.feed.version > 2, 15, "two frames")
            await wait_until(pilot, lambda: "50%" in panel_text(app, "gpu0"), 10, "gpu0 drawn")
            title = panel_text(app, "gpu0").splitlines()[0]
            assert title.startswith("GPU0 H100 [bold]x[/]\\x1b[2J\\x07 ü"), title
            assert "\x1b" not in screen_text(app) and "\x07" not in screen_text(app)
            await pilot.press("q")

    run(body)
