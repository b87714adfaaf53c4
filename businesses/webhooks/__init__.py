"""Outgoing webhooks: signed event deliveries to integrators' URLs (docs/webhooks.md).

The rest of the code calls only :func:`businesses.webhooks.services.event_emit`.
"""
