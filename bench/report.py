"""The results table, the verdicts against the stated targets, and the JSON record."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.wrk import Result, Scenario

FLOOR = "fastapi"  # ratios are to target (2), the framework's own floor
HEADLINE = "articles"  # the scenario the targets are stated for

# The stated targets (README): list through NGINX >= 10 % of (2) with p99 <= 100 ms, and
# NGINX in front costing < 10 % of Gunicorn-direct throughput.
MIN_RATIO_TO_FLOOR = 0.10
MAX_P99_MS = 100.0
MAX_NGINX_COST = 0.10


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


@dataclass(frozen=True, slots=True)
class Verdict:
    requirement: str
    passed: bool
    detail: str
    conclusive: bool = True  # False when other work kept the CPUs busy around the runs

    def line(self) -> str:
        caveat = "" if self.conclusive else " [busy machine: not conclusive, run again]"
        return f"{'PASS' if self.passed else 'FAIL'}  {self.requirement}: {self.detail}{caveat}"


def _index(measurements: Sequence[Measurement]) -> dict[tuple[str, str], Result]:
    return {(m.target.key, m.scenario.name): m.result for m in measurements}


def _find(measurements: Sequence[Measurement], target: str) -> Measurement | None:
    for m in measurements:
        if m.target.key == target and m.scenario.name == HEADLINE:
            return m
    return None


def ratio_to_floor(measurements: Sequence[Measurement], m: Measurement) -> float | None:
    floor = _index(measurements).get((FLOOR, m.scenario.name))
    if floor is None or not floor.rps:
        return None
    return m.result.rps / floor.rps


def table(measurements: Sequence[Measurement]) -> str:
    header = (
        f"{'scenario':<30} {'target':<26} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'non-2xx':>8} {'sock err':>8} {'vs (2)':>7} {'busy':>5}"
    )
    lines = [header, "-" * len(header)]
    previous = None
    for m in measurements:
        if previous is not None and previous != m.scenario.name:
            lines.append("")
        previous = m.scenario.name
        ratio = ratio_to_floor(measurements, m)
        r = m.result
        lines.append(
            f"{m.scenario.label:<30} {m.target.label:<26} {r.rps:>9.1f} {r.p50_ms:>8.2f} "
            f"{r.p99_ms:>8.2f} {r.non_2xx:>8} {sum(r.socket_errors.values()):>8} "
            f"{'' if ratio is None else f'{ratio:.3f}':>7} {m.background:>5.0%}"
        )
    return "\n".join(lines)


def verdicts(measurements: Sequence[Measurement], *, noisy: float) -> list[Verdict]:
    """The stated targets, on the articles list; ``noisy`` is the background share above
    which a run does not count as conclusive."""
    nginx, floor, direct = (_find(measurements, key) for key in ("nginx", FLOOR, "gunicorn"))
    out: list[Verdict] = []
    if nginx is not None and floor is not None and floor.result.rps:
        front = nginx.result
        ratio = front.rps / floor.result.rps
        out.append(
            Verdict(
                f"articles list through NGINX >= {MIN_RATIO_TO_FLOOR:.0%} of (2), "
                f"p99 <= {MAX_P99_MS:.0f} ms",
                ratio >= MIN_RATIO_TO_FLOOR and front.p99_ms <= MAX_P99_MS and not front.errors,
                f"{front.rps:.0f} req/s = {ratio:.1%} of (2) {floor.result.rps:.0f} req/s; "
                f"p99 {front.p99_ms:.1f} ms; errors {front.errors}",
                conclusive=max(nginx.background, floor.background) <= noisy,
            )
        )
    if nginx is not None and direct is not None and direct.result.rps:
        cost = 1 - nginx.result.rps / direct.result.rps
        out.append(
            Verdict(
                f"NGINX in front costs < {MAX_NGINX_COST:.0%} of Gunicorn-direct throughput "
                "(articles list)",
                cost < MAX_NGINX_COST and not nginx.result.errors,
                f"(5) {nginx.result.rps:.0f} vs (4) {direct.result.rps:.0f} req/s: cost {cost:.1%}",
                conclusive=max(nginx.background, direct.background) <= noisy,
            )
        )
    return out


def nginx_costs(measurements: Sequence[Measurement]) -> str:
    """NGINX's cost in every scenario, for information next to the verdict."""
    found = _index(measurements)
    parts = []
    for m in measurements:
        if m.target.key != "nginx":
            continue
        direct = found.get(("gunicorn", m.scenario.name))
        if direct is not None and direct.rps:
            parts.append(f"{m.scenario.name} {1 - m.result.rps / direct.rps:.1%}")
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
                **asdict(m.result),
                "background_cpu": round(m.background, 3),
                "ratio_to_fastapi_floor": None if ratio is None else round(ratio, 4),
            }
        )
    document = {
        **context,
        "results": rows,
        "verdicts": [asdict(v) for v in verdict_list],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
