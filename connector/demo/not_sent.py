"""The demo's closing account per platform: what it holds after adjustments, what it never got.

Read from the delivery report, so the demo shows the same figures as the dashboard and
``closedloop report delivery``: held (net of accepted retractions, at restated values), and
each reason a conversion was not planned, skipped, rejected or given up on, with counts.
"""

from __future__ import annotations

from typing import Any

from connector.reports.kpis import display

#: Row statuses that mean "the platform did not get it", in the order shown.
NOT_SENT = ("skipped", "rejected", "dead")


def platform_account(report: dict[str, Any], names: tuple[str, ...]) -> list[str]:
    """Lines for the demo printout, one block per destination in ``names``."""
    lines = ["", "What each platform holds, and what was not sent and why:"]
    w = max(map(len, names), default=10)
    for name in names:
        info = report["platforms"].get(name)
        if info is None:
            lines.append(f"  {name:<{w}} nothing planned")
            continue
        accepted, net = info["by_status"]["accepted"], info["net"]
        lines.append(
            f"  {name:<{w}} holds {net['conversions']} worth {display(net['value'], 'money')} "
            f"(accepted {accepted['conversions']}, retracted {info['retracted']['conversions']}"
            f", restated {info['restated']['conversions']})"
        )
        reasons = [
            (r["count"], f"not planned ({r['what']}): {r['reason']}") for r in info["not_planned"]
        ]
        reasons += [
            (r["count"], f"{r['status']} {r['code']}: {r['example'] or ''}".rstrip(": "))
            for r in info["reasons"]
            if r["status"] in NOT_SENT
        ]
        for count, text in sorted(reasons, key=lambda item: (-item[0], item[1])):
            lines.append(f"  {'':<{w}} {count:>4} x {text}")
        if not reasons:
            lines.append(f"  {'':<{w}} everything planned was sent")
    return lines
