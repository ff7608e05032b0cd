"""A GPU lost mid-session (scripted NVML) is shown as lost while the other devices keep updating."""

from __future__ import annotations

from collectors.fake_nvml import FakeGpu, FakeNvml
from rigscope.app_factory import build_app
from rigscope.live import LiveSource
from rigscope.monitor import MonitorConfig
from tests.tui.conftest import panel_text, read_meta, run, wait_frames, wait_until


def _value_of(panel: str, label: str) -> str:
    line = next(line for line in panel.splitlines() if line.startswith(label))
    return line.split()[-1]


def test_lost_gpu_is_shown_lost_and_the_others_go_on(tmp_path):
    nvml = FakeNvml([FakeGpu(), FakeGpu()])
    nvml.lose_gpu(1, at_tick=3)
    source = LiveSource(MonitorConfig(source="system", mode="auto", hz=5, duration_s=None, directory=str(tmp_path)),
                        nvml_backend=nvml)
    app = build_app(source)
    notified: list[tuple[str, str]] = []
    notify = app.notify

    def spy(message, *args, **kwargs):
        notified.append((str(message), kwargs.get("severity", "information")))
        return notify(message, *args, **kwargs)

    app.notify = spy  # type: ignore[method-assign]
    try:
        async def body():
            async with app.run_test(size=(160, 50)) as pilot:
                await wait_until(pilot, lambda: source.feed.version > 10, 15, "ten frames")
                await wait_until(pilot, lambda: "no reading" in panel_text(app, "gpu1"), 10, "gpu1 shown as lost")
                lost = panel_text(app, "gpu1")
                assert "no reading: GPU lost or stalled" in lost
                assert _value_of(lost, "util") == "—"
                first = panel_text(app, "gpu0")
                assert "no reading" not in first and _value_of(first, "util") == "50%"
                assert "GPU lost" not in panel_text(app, "cpu")
                drawn = app.dashboard._drawn_version
                await wait_frames(pilot, source, 5)  # the others keep updating
                await wait_until(pilot, lambda: app.dashboard._drawn_version > drawn, 5, "a newer frame drawn")
                assert _value_of(panel_text(app, "gpu0"), "util") == "50%"
                assert "no reading: GPU lost or stalled" in panel_text(app, "gpu1")
                warnings = [m for m, severity in notified if severity == "warning" and "gpu1" in m]
                assert any("lost" in m for m in warnings), notified
                assert any("gpu1" in n.message and "lost" in n.message for n in app._notifications)
                await pilot.press("q")
        run(body)
    finally:
        if not source.closed:
            source.close()
    meta = read_meta(source.monitor.session)
    assert meta["status"] == "complete"
    assert any("gpu1" in warning and "lost" in warning for warning in meta["warnings"])
