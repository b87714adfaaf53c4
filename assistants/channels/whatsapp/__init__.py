"""The WhatsApp Cloud API channel (docs/whatsapp.md)."""
