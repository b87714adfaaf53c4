"""Customer channels: the web widget and WhatsApp."""
