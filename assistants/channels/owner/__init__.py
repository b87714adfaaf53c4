"""The owner's assistant on their own phone: commands to the business's WhatsApp number and a
weekly digest by WhatsApp and email (docs/whatsapp.md "The owner's phone")."""
