"""The SM row: a GPU with GPM shows its SM activity under utilization; the CPU and a GPU without GPM do not."""

from __future__ import annotations

from rigscope.app_factory import build_app
from tests.tui.conftest import panel_text, run, sim_source, wait_ended
from tui.devices import FULL_LINES, GPM_LINES, Device, panel_lines


def test_a_gpm_gpu_has_an_sm_row_under_util_and_the_cpu_lines_up_with_it(tmp_path):
    source = sim_source(tmp_path, gpus=1, hz=2.0, speed=None, duration_s=308.0)  # into the NCCL wait (295-315 s)
    try:
        async def body():
            app = build_app(source)
            async with app.run_test(size=(160, 50)) as pilot:
                await wait_ended(pilot, source)
                await pilot.pause()
                gpu, cpu = panel_text(app, "gpu0").splitlines(), panel_text(app, "cpu").splitlines()
                labels = [line.split()[0] if line.strip() else "" for line in gpu[1:]]
                assert labels[:3] == ["util", "SM", "temp"]
                util, sm = (float(gpu[i].split()[-1].rstrip("%")) for i in (1, 2))
                assert util >= 90 and sm < 20  # the simulated job waits in NCCL: util says busy, SM says not
                assert not any(line.startswith("SM") for line in cpu) and len(cpu) == len(gpu) == GPM_LINES
        run(body)
    finally:
        source.close()


def test_panels_are_as_high_as_the_tallest_kind():
    cpu, plain, gpm = Device("cpu", "CPU"), Device("gpu0", "GPU0"), Device("gpu1", "GPU1", gpm=True)
    assert panel_lines([cpu, plain]) == FULL_LINES and panel_lines([cpu, plain, gpm]) == GPM_LINES
    assert "gpu1_sm_active_pct" in gpm.series_names() and "gpu0_sm_active_pct" not in plain.series_names()
