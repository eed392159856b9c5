"""First-party tracking: the snippet, page views, identity, channel grouping, CRM write-back."""
