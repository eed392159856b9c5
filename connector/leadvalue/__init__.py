"""Lead-value conversions: learn what a lead at each stage is worth, and send it at once.

B2B deals close weeks after the click, while the ad platforms' bidders learn from what they
hear within days. This package learns, per lead stage (``lead``, ``MQL``, ``SQL``) and source,
the revenue such leads have gone on to win (``learn``), plans a conversion with that value the
moment a person reaches the stage (``plan``, ``step``), and keeps each prediction so a report
can set it against the revenue that followed (``connector.reports.lead_values``).
"""
