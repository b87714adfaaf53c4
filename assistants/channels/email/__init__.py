"""Email: the business's people hear of handoffs (docs/chat.md "Owner in the loop")."""
