"""Channels: the web widget and WhatsApp for customers, email for the business's people."""
