"""Microsoft Advertising spend pull: keyword reports through the msads SDK, from the sandbox.

Seeds ``--days`` days of ``--keywords`` keywords (20 keywords per campaign, 5 per ad group) into
the Microsoft Advertising sandbox, then times one ``MicrosoftAdsSpend.pull`` of those days:
token refresh, both reports' Submit and Poll (the sandbox answers Success on the first poll),
the zipped CSV downloads and the SDK's ``ReportFileReader``. Prints rows, seconds and the cost
total (each keyword-day costs 1.23, so the total is rows x 1.23).

    .venv/bin/python bench/msads_spend.py                    # 45 days x 200 keywords
    .venv/bin/python bench/msads_spend.py --days 90 --keywords 1000
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

import connector.config  # noqa: F401  (loads the registry's settings models in order)
from platforms.microsoft_ads.sandbox import MicrosoftAdsSandbox
from platforms.microsoft_ads.settings import MicrosoftAdsSettings
from platforms.microsoft_ads.spend import MicrosoftAdsSpend


def main() -> None:
    """Seed, pull once, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=45)
    parser.add_argument("--keywords", type=int, default=200)
    args = parser.parse_args()
    end = datetime.now(UTC).date()
    with MicrosoftAdsSandbox() as box:
        box.reporting.pending_polls = 0
        for offset in range(args.days):
            for k in range(args.keywords):
                box.add_delivery(
                    end - timedelta(days=offset),
                    str(100 + k // 20),
                    f"Campaign {k // 20}",
                    "1.23",
                    2,
                    50,
                    ad_group_id=str(1000 + k // 5),
                    ad_group=f"Ad group {k // 5}",
                    keyword_id=str(5000 + k),
                    keyword=f"keyword {k}",
                )
        settings = MicrosoftAdsSettings(**box.platform_config())
        started = time.perf_counter()
        rows = list(MicrosoftAdsSpend(settings).pull(end - timedelta(days=args.days - 1), end))
        seconds = time.perf_counter() - started
    print(f"{len(rows)} rows in {seconds:.2f} s; cost {sum(r.cost for r in rows)}")


if __name__ == "__main__":
    main()
