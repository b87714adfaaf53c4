"""A Django database backend: PostgreSQL, served by the embedded server when first used."""
