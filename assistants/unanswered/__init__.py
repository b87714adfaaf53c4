"""Unanswered questions (docs/unanswered.md): what customers asked that the assistant could not
answer, grouped into topics by meaning, for the owner to answer once as an FAQ."""
