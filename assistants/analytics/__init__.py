"""Analytics: a daily rollup per assistant and channel (AnalyticsDay), kept by celery beat, and
the report read from it (docs/analytics.md)."""
