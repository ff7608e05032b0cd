"""Reading notices folded over GPUs (`collectors.notices.fold_by_gpu`) back into the GPUs they name."""

from __future__ import annotations


def gpus_named(notices: list[str], text: str) -> tuple[int, set[int]]:
    """How many of `notices` end with `text`, and every GPU index they name (`gpu0-gpu3,gpu6` is 0, 1, 2, 3, 6).
    A notice from a GPU's own reader thread may come a tick after the others': one text may take two lines."""
    lines = [n for n in notices if n.endswith(text)]
    named: set[int] = set()
    for line in lines:
        for part in line.removesuffix(text).split()[-1].split(","):
            first, _, last = part.partition("-")
            named.update(range(int(first.removeprefix("gpu")), int((last or first).removeprefix("gpu")) + 1))
    return len(lines), named
