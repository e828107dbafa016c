"""The results table, the verdicts against the stated targets, and the JSON record."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.wrk import Result, Scenario

FLOOR = "fastapi"  # ratios are to target (2), the framework's own floor

# The first targets (README): the cached list through NGINX >= 10 % of (2) with p99 <=
# 100 ms, and NGINX in front costing < 10 % of Gunicorn-direct throughput.
MIN_RATIO_TO_FLOOR = 0.10
MAX_P99_MS = 100.0
MAX_NGINX_COST = 0.10

# Issue 12, on (4) Gunicorn direct with the read cache off: scenario -> least share of (2).
SHARE_OF_FLOOR = {
    "article": 0.30,
    "comments": 0.30,
    "tags": 0.30,
    "articles": 0.15,
    "feed": 0.15,
    "favorite": 0.10,
    "comment_create": 0.10,
}
SIGNED_IN_SHARE = 0.85  # signed-in list / anonymous list, same target, same run
MIXED_CACHE_GAIN = 3.0  # mixed through NGINX: cache on / cache off
MAX_FLOOD_P99_RATIO = 2.0  # list p99 during the login flood / alone

ALONE, DURING, LOGINS = "alone", "during logins", "logins"


@dataclass(frozen=True, slots=True)
class Target:
    key: str
    label: str


@dataclass(frozen=True, slots=True)
class Measurement:
    target: Target
    scenario: Scenario
    result: Result
    background: float = 0.0  # share of the CPUs busy with other work just before the run
    cache: str = ""  # "on" / "off" for fastboard, "" for the baselines
    phase: str = ""  # the login flood's three figures: ALONE, DURING, LOGINS
    # Read cache lookups during the measured run, by result (hit, miss, unavailable).
    cache_lookups: dict[str, float] | None = None

    @property
    def hit_ratio(self) -> float | None:
        lookups = self.cache_lookups or {}
        total = sum(lookups.values())
        return lookups.get("hit", 0.0) / total if total else None

    @property
    def label(self) -> str:
        return f"{self.scenario.label} [{self.phase}]" if self.phase else self.scenario.label


@dataclass(frozen=True, slots=True)
class Verdict:
    requirement: str
    passed: bool
    detail: str
    conclusive: bool = True  # False when other work kept the CPUs busy around the runs

    def line(self) -> str:
        caveat = "" if self.conclusive else " [busy machine: not conclusive, run again]"
        return f"{'PASS' if self.passed else 'FAIL'}  {self.requirement}: {self.detail}{caveat}"


def find(
    measurements: Sequence[Measurement],
    target: str,
    scenario: str,
    cache: str | None = None,
    phase: str = "",
) -> Measurement | None:
    """The measurement of ``scenario`` on ``target`` (baselines: any cache)."""
    for m in measurements:
        if (
            m.target.key == target
            and m.scenario.name == scenario
            and m.phase == phase
            and (cache is None or m.cache in (cache, ""))
        ):
            return m
    return None


def ratio_to_floor(measurements: Sequence[Measurement], m: Measurement) -> float | None:
    floor = find(measurements, FLOOR, m.scenario.name, phase=m.phase)
    if floor is None or not floor.result.ok_rps:
        return None
    return m.result.ok_rps / floor.result.ok_rps


def table(measurements: Sequence[Measurement]) -> str:
    header = (
        f"{'scenario':<45} {'target':<24} {'cache':>5} {'2xx/s':>8} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'non-2xx':>7} {'5xx':>5} {'sock err':>8} {'vs (2)':>7} {'busy':>5}"
    )
    lines = [header, "-" * len(header)]
    previous = None
    for m in measurements:
        if previous is not None and previous != m.scenario.name:
            lines.append("")
        previous = m.scenario.name
        ratio = ratio_to_floor(measurements, m)
        r = m.result
        server_errors = "-" if r.server_errors is None else str(r.server_errors)
        lines.append(
            f"{m.label:<45} {m.target.label:<24} {m.cache or '-':>5} {r.ok_rps:>8.1f} "
            f"{r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.non_2xx:>7} {server_errors:>5} "
            f"{sum(r.socket_errors.values()):>8} "
            f"{'' if ratio is None else f'{ratio:.3f}':>7} {m.background:>5.0%}"
        )
    return "\n".join(lines)


def _figures(r: Result) -> str:
    return f"{r.ok_rps:.0f} req/s, p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, errors {r.errors}"


def _conclusive(noisy: float, *measured: Measurement) -> bool:
    return max(m.background for m in measured) <= noisy


def verdicts(measurements: Sequence[Measurement], *, noisy: float) -> list[Verdict]:
    """Every stated target whose measurements are in this run; ``noisy`` is the
    background share above which a run does not count as conclusive."""
    return [
        *_first_targets(measurements, noisy),
        *_shares_of_floor(measurements, noisy),
        *_relative(measurements, noisy),
        *_login_flood(measurements, noisy),
    ]


def _first_targets(measurements: Sequence[Measurement], noisy: float) -> list[Verdict]:
    """The cached anonymous list through NGINX, and what NGINX costs in front of it."""
    nginx = find(measurements, "nginx", "articles", "on")
    floor = find(measurements, FLOOR, "articles")
    direct = find(measurements, "gunicorn", "articles", "on")
    out: list[Verdict] = []
    if nginx is not None and floor is not None and floor.result.ok_rps:
        front = nginx.result
        ratio = front.ok_rps / floor.result.ok_rps
        out.append(
            Verdict(
                f"anonymous list through NGINX, cache on, >= {MIN_RATIO_TO_FLOOR:.0%} of (2), "
                f"p99 <= {MAX_P99_MS:.0f} ms",
                ratio >= MIN_RATIO_TO_FLOOR and front.p99_ms <= MAX_P99_MS and not front.errors,
                f"{_figures(front)} = {ratio:.1%} of (2) {floor.result.ok_rps:.0f} req/s",
                _conclusive(noisy, nginx, floor),
            )
        )
    if nginx is not None and direct is not None and direct.result.ok_rps:
        cost = 1 - nginx.result.ok_rps / direct.result.ok_rps
        out.append(
            Verdict(
                f"NGINX in front costs < {MAX_NGINX_COST:.0%} of Gunicorn-direct throughput "
                "(anonymous list, cache on)",
                cost < MAX_NGINX_COST and not nginx.result.errors,
                f"(5) {nginx.result.ok_rps:.0f} vs (4) {direct.result.ok_rps:.0f} req/s: "
                f"cost {cost:.1%}",
                _conclusive(noisy, nginx, direct),
            )
        )
    return out


def _at_least(
    requirement: str,
    part: Measurement | None,
    whole: Measurement | None,
    least: float,
    noisy: float,
) -> list[Verdict]:
    """``part``'s 2xx/s at least ``least`` times ``whole``'s, neither with errors; no
    verdict when either was not measured in this run."""
    if part is None or whole is None or not whole.result.ok_rps:
        return []
    ratio = part.result.ok_rps / whole.result.ok_rps
    shown = f"{ratio:.2f}x" if least > 1 else f"{ratio:.1%}"
    return [
        Verdict(
            requirement,
            ratio >= least and not part.result.errors and not whole.result.errors,
            f"{_figures(part.result)} = {shown} of {_figures(whole.result)}",
            _conclusive(noisy, part, whole),
        )
    ]


def _shares_of_floor(measurements: Sequence[Measurement], noisy: float) -> list[Verdict]:
    out: list[Verdict] = []
    for name, share in SHARE_OF_FLOOR.items():
        out += _at_least(
            f"{name} on (4), cache off, >= {share:.0%} of (2)",
            find(measurements, "gunicorn", name, "off"),
            find(measurements, FLOOR, name),
            share,
            noisy,
        )
    return out


def _relative(measurements: Sequence[Measurement], noisy: float) -> list[Verdict]:
    """The targets stated as one fastboard measurement over another in the same run."""
    out: list[Verdict] = []
    for requirement, part, whole, least in (
        (
            f"signed-in list on (4), cache off, >= {SIGNED_IN_SHARE:.0%} of the anonymous list",
            ("gunicorn", "articles_signed_in", "off"),
            ("gunicorn", "articles", "off"),
            SIGNED_IN_SHARE,
        ),
        (
            f"mixed through NGINX, cache on >= {MIXED_CACHE_GAIN:.0f}x cache off",
            ("nginx", "mixed", "on"),
            ("nginx", "mixed", "off"),
            MIXED_CACHE_GAIN,
        ),
    ):
        out += _at_least(
            requirement, find(measurements, *part), find(measurements, *whole), least, noisy
        )
    return out


def _login_flood(measurements: Sequence[Measurement], noisy: float) -> list[Verdict]:
    alone = find(measurements, "gunicorn", "login_flood", "off", ALONE)
    during = find(measurements, "gunicorn", "login_flood", "off", DURING)
    logins = find(measurements, "gunicorn", "login_flood", "off", LOGINS)
    if alone is None or during is None or logins is None or not alone.result.p99_ms:
        return []
    ratio = during.result.p99_ms / alone.result.p99_ms
    server_errors = sum(m.result.server_errors or 0 for m in (alone, during, logins))
    return [
        Verdict(
            f"login flood on (4), cache off: list p99 <= {MAX_FLOOD_P99_RATIO:.0f}x alone, "
            "zero 5xx",
            ratio <= MAX_FLOOD_P99_RATIO
            and during.result.requests > 0  # none at all: starved past the run's end
            and logins.result.requests > 0
            and not server_errors
            and not alone.result.errors
            and not during.result.errors,
            f"p99 {during.result.p99_ms:.1f} ms during vs {alone.result.p99_ms:.1f} ms alone "
            f"({ratio:.2f}x); list {during.result.ok_rps:.0f} vs {alone.result.ok_rps:.0f} req/s; "
            f"logins {logins.result.ok_rps:.1f}/s, p99 {logins.result.p99_ms:.0f} ms; "
            f"5xx {server_errors}",
            _conclusive(noisy, alone, during),
        )
    ]


def nginx_costs(measurements: Sequence[Measurement]) -> str:
    """NGINX's cost in every scenario, for information next to the verdict."""
    parts = []
    for m in measurements:
        if m.target.key != "nginx" or m.phase:
            continue
        direct = find(measurements, "gunicorn", m.scenario.name, m.cache)
        if direct is not None and direct.result.ok_rps:
            cost = 1 - m.result.ok_rps / direct.result.ok_rps
            parts.append(f"{m.scenario.name} (cache {m.cache}) {cost:.1%}")
    return "NGINX cost vs Gunicorn direct, per scenario: " + ", ".join(parts)


def write_json(
    path: Path,
    *,
    measurements: Sequence[Measurement],
    verdict_list: Sequence[Verdict],
    context: dict[str, Any],
) -> None:
    rows = []
    for m in measurements:
        ratio = ratio_to_floor(measurements, m)
        rows.append(
            {
                "target": m.target.key,
                "target_label": m.target.label,
                "scenario": m.scenario.name,
                "scenario_label": m.scenario.label,
                "cache": m.cache or None,
                "phase": m.phase or None,
                **asdict(m.result),
                "ok_rps": m.result.ok_rps,
                "background_cpu": round(m.background, 3),
                "ratio_to_fastapi_floor": None if ratio is None else round(ratio, 4),
                "read_cache_lookups": m.cache_lookups,
                "read_cache_hit_ratio": None if m.hit_ratio is None else round(m.hit_ratio, 4),
            }
        )
    document = {
        **context,
        "results": rows,
        "verdicts": [asdict(v) for v in verdict_list],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
