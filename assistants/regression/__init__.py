"""Knowledge tests: questions whose answers must keep their facts, checked before a new version
of a source replaces the old (docs/knowledge-tests.md)."""
