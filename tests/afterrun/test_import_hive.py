"""`{host}` and `{date}` in `import --dir` are the imported session's host and the date of its first sample."""

from __future__ import annotations

from recordings.session import list_sessions


def test_host_and_date_of_the_imported_session(lab, realworld, tmp_path, rig):
    into = str(tmp_path / "hive" / "host={host}" / "date={date}")
    done = rig("import", str(lab / "pc__rle_20251028_08.csv"), str(realworld / "zetascope__gpu_stats.csv"),
               "--dir", into, "--tz", "UTC")
    assert done.returncode == 0, done.stderr
    (lab_session,) = list_sessions(tmp_path / "hive" / "host=pc" / "date=2025-10-28")  # the host of the file name
    (jetson,) = list_sessions(tmp_path / "hive" / "host=imported" / "date=2026-03-11")  # no host in the file
    assert lab_session.name.endswith("-pc") and jetson.name.endswith("-imported")
    again = rig("import", str(lab / "pc__rle_20251028_08.csv"), "--dir", into)
    assert again.stdout == f"{lab / 'pc__rle_20251028_08.csv'}: imported before, as {lab_session} (skipped)\n"


def test_host_names_the_machine_the_file_came_from(realworld, tmp_path, rig):
    into = str(tmp_path / "host={host}" / "date={date}")
    done = rig("import", str(realworld / "akshayroyal__gpu_usage.csv"), "--host", "rtx box", "--dir", into)
    assert done.returncode == 0, done.stderr
    (session,) = list_sessions(tmp_path / "host=rtx-box" / "date=2023-06-22")
    assert session.name == "20230622-185656-rtx-box"
