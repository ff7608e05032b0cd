"""Rolling sums over the 5-second window W5(k) of SIGNALS.md (t_k - 5 < t_j <= t_k).

Each window keeps a deque of its samples and running sums over them, so a tick
costs amortized O(1): a sample is added once and evicted once.  Sums are taken
over values shifted by reference points (a time origin, a reference utilization
and temperature) and are rebuilt from the deque around fresh reference points
every `REBASE_S` seconds of sample time.  That keeps rounding error from piling
up over day-long sessions (elapsed_s up to 86,400) and keeps the cancellation
in the variance and regression terms small.
"""

from __future__ import annotations

from collections import deque
from math import inf, sqrt

WINDOW_S = 5.0
# Rebuild the running sums from the deque this often (sample time). The deque
# holds at most 5 s of samples, so the rebuild costs amortized O(1) per tick.
REBASE_S = 10.0


class DeviceWindow:
    """One device's window: σ of u, OLS slope of temperature over time, mean of rle_raw.

    Call `push(t, u, temp)` once per sample (None = null), then `push_rle(rle_raw)`
    for the same sample.
    """

    __slots__ = (
        "_q", "_entry", "_t0", "_u0", "_T0",
        "_nu", "_su", "_suu", "_u_last", "_u_repeats",
        "_nT", "_sx", "_sy", "_sxx", "_sxy",
        "_nr", "_nz", "_sr",
    )  # fmt: skip

    def __init__(self) -> None:
        # Entries are [t, u, temp, rle_raw]; rle_raw is filled in by push_rle.
        self._q: deque[list] = deque()
        self._entry: list = [0.0, None, None, None]
        self._t0 = -inf  # forces a rebase (which sets the references) on the first push
        self._u0 = 0.0
        self._T0 = 0.0
        self._nu = 0
        self._su = self._suu = 0.0
        # The latest non-null u and how many non-null u in a row had that value: when that
        # covers the whole window, σ is exactly 0 (no rounding residue from the sums).
        self._u_last: float | None = None
        self._u_repeats = 0
        self._nT = 0
        self._sx = self._sy = self._sxx = self._sxy = 0.0
        self._nr = 0
        self._nz = 0  # non-zero rle values, so that a window of zeros averages to exactly 0
        self._sr = 0.0

    def push(self, t: float, u: float | None, temp: float | None) -> tuple[float, float]:
        """Add a sample; return (σ of u, heating rate °C/s) over the window ending at it."""
        q = self._q
        cut = t - WINDOW_S
        if t - self._t0 >= REBASE_S:
            while q and q[0][0] <= cut:
                q.popleft()
            self._rebase(t, u, temp)
        else:
            while q and q[0][0] <= cut:
                ot, ou, oT, orle = q.popleft()
                if ou is not None:
                    d = ou - self._u0
                    self._nu -= 1
                    self._su -= d
                    self._suu -= d * d
                if oT is not None:
                    x = ot - self._t0
                    y = oT - self._T0
                    self._nT -= 1
                    self._sx -= x
                    self._sy -= y
                    self._sxx -= x * x
                    self._sxy -= x * y
                if orle is not None:
                    self._nr -= 1
                    self._sr -= orle
                    if orle:
                        self._nz -= 1

        sigma = 0.0
        if u is not None:
            if u == self._u_last:
                self._u_repeats += 1
            else:
                self._u_last = u
                self._u_repeats = 1
            d = u - self._u0
            self._nu = nu = self._nu + 1
            self._su = su = self._su + d
            self._suu = suu = self._suu + d * d
            if self._u_repeats < nu:
                var = (suu - su * su / nu) / nu
                if var > 0.0:
                    sigma = sqrt(var)
        elif self._u_repeats < self._nu:
            nu = self._nu
            su = self._su
            var = (self._suu - su * su / nu) / nu
            if var > 0.0:
                sigma = sqrt(var)

        if temp is not None:
            x = t - self._t0
            y = temp - self._T0
            self._nT = nT = self._nT + 1
            self._sx = sx = self._sx + x
            self._sy = sy = self._sy + y
            self._sxx = sxx = self._sxx + x * x
            self._sxy = sxy = self._sxy + x * y
        else:
            nT = self._nT
            sx, sy, sxx, sxy = self._sx, self._sy, self._sxx, self._sxy
        slope = 0.0
        if nT > 1:
            var_x = sxx - sx * sx / nT
            # Equal times (zero variance) give a zero slope, also after rounding.
            if var_x > 1e-12 * sxx:
                slope = (sxy - sx * sy / nT) / var_x

        entry = [t, u, temp, None]
        q.append(entry)
        self._entry = entry
        return sigma, slope

    def push_rle(self, rle: float | None) -> float | None:
        """Record rle_raw of the sample just pushed; return the mean of non-null rle_raw in the window."""
        if rle is not None:
            self._entry[3] = rle
            self._nr += 1
            self._sr += rle
            if rle:
                self._nz += 1
        nr = self._nr
        if not nr:
            return None
        if not self._nz:
            self._sr = 0.0
            return 0.0
        return self._sr / nr

    def _rebase(self, t: float, u: float | None, temp: float | None) -> None:
        self._t0 = t0 = t
        if u is not None:
            self._u0 = u
        if temp is not None:
            self._T0 = temp
        u0, T0 = self._u0, self._T0
        nu = nT = nr = nz = 0
        su = suu = sx = sy = sxx = sxy = sr = 0.0
        for ot, ou, oT, orle in self._q:
            if ou is not None:
                d = ou - u0
                nu += 1
                su += d
                suu += d * d
            if oT is not None:
                x = ot - t0
                y = oT - T0
                nT += 1
                sx += x
                sy += y
                sxx += x * x
                sxy += x * y
            if orle is not None:
                nr += 1
                sr += orle
                if orle:
                    nz += 1
        self._nu, self._su, self._suu = nu, su, suu
        self._nT, self._sx, self._sy, self._sxx, self._sxy = nT, sx, sy, sxx, sxy
        self._nr, self._nz, self._sr = nr, nz, sr


class MeanWindow3:
    """Means of three always-present values (nulls already counted as 0) over the window."""

    __slots__ = ("_q", "_t0", "_n", "_sa", "_sb", "_sc")

    def __init__(self) -> None:
        self._q: deque[tuple[float, float, float, float]] = deque()
        self._t0 = -inf
        self._n = 0
        self._sa = self._sb = self._sc = 0.0

    def push(self, t: float, a: float, b: float, c: float) -> tuple[float, float, float]:
        q = self._q
        cut = t - WINDOW_S
        if t - self._t0 >= REBASE_S:
            while q and q[0][0] <= cut:
                q.popleft()
            q.append((t, a, b, c))
            self._t0 = t
            self._n = n = len(q)
            self._sa = sa = sum(e[1] for e in q)
            self._sb = sb = sum(e[2] for e in q)
            self._sc = sc = sum(e[3] for e in q)
            return sa / n, sb / n, sc / n
        sa, sb, sc, n = self._sa, self._sb, self._sc, self._n
        while q and q[0][0] <= cut:
            _, oa, ob, oc = q.popleft()
            sa -= oa
            sb -= ob
            sc -= oc
            n -= 1
        q.append((t, a, b, c))
        n += 1
        self._sa = sa = sa + a
        self._sb = sb = sb + b
        self._sc = sc = sc + c
        self._n = n
        return sa / n, sb / n, sc / n
