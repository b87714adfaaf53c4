"""A Django database backend: Django's PostgreSQL backend with two hot-path savings (base.py)."""
