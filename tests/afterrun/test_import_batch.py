"""`rigscope import a b c ...`: every file is tried and gets its one line; a summary; exit 1 if any was refused."""

from __future__ import annotations

from recordings.session import list_sessions

GOOD = "timestamp, utilization.gpu [%]\n2025/06/01 12:00:0{n}.000, 5 %\n"


def test_every_file_is_tried_and_gets_one_line(tmp_path, rig):
    files = [tmp_path / name for name in ("a.csv", "bad.csv", "b.csv", "again.csv", "empty.csv")]
    files[0].write_text(GOOD.format(n=0))
    files[1].write_text("time,gpu_util\n1,2\n")
    files[2].write_text(GOOD.format(n=1))
    files[3].write_text(GOOD.format(n=0))  # the contents of a.csv
    files[4].write_text("")
    root = tmp_path / "sessions"
    done = rig("import", *map(str, files), str(tmp_path / "missing.csv"), "--dir", str(root))
    assert done.returncode == 1
    out = [line for line in done.stdout.splitlines() if not line.startswith("  ")]
    assert out[0].startswith(f"{files[0]}: nvidia-smi query, 1 samples -> ")
    assert out[1].startswith(f"{files[2]}: nvidia-smi query, 1 samples -> ")
    assert out[2].startswith(f"{files[3]}: imported before, as ") and out[2].endswith("(skipped)")
    assert out[3] == "6 files: 2 imported, 1 skipped (imported before), 3 refused"
    errors = done.stderr.splitlines()
    assert [line.split(": ")[1] for line in errors] == ["error", "error", "error"]
    assert errors[0].startswith(f"rigscope: error: {files[1]}: unknown layout")
    assert errors[1] == f"rigscope: error: {files[4]}: empty file"
    assert errors[2] == f"rigscope: error: cannot read {tmp_path / 'missing.csv'}: no such file"
    assert "Traceback" not in done.stderr and len(list_sessions(root)) == 2


def test_a_batch_without_refusals_exits_0(tmp_path, rig):
    files = [tmp_path / f"{n}.csv" for n in range(2)]
    for n, path in enumerate(files):
        path.write_text(GOOD.format(n=n))
    done = rig("import", *map(str, files), "--dir", str(tmp_path / "s"))
    assert done.returncode == 0 and done.stdout.splitlines()[-1] == "2 files: 2 imported, 0 skipped (imported before), 0 refused"
