"""Revenue from beyond the CRM: sales posted to ``POST /revenue`` become deals of the sync.

A sale is stored as it arrived (``revenue_sales``), then the revenue step hands it to the same
match → attribute → plan → outbox path as CRM deals, as a deal ``revenue:<source>:<order_id>``
in the pipeline ``revenue:<source>``: restatements, retractions and reports come with it.

Nothing is imported here: the web process (the webhook, privacy requests) needs none of the
sync's machinery, which ``connector.revenue.step`` brings.
"""
