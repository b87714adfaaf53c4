"""ENGINE "config.embedded_db": Django's postgresql backend, pointed at the embedded server.

The server is found or started when a process first opens a connection, not
when settings load, so commands that never touch the database (ruff, check,
collectstatic) never start it, and production settings never do.
"""

from django.db.backends.postgresql import base

from config.embedded_db.server import embedded_server_address


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, settings_dict, alias="default"):
        host, port = embedded_server_address(pgdata=settings_dict["EMBEDDED_PGDATA"], name=settings_dict["NAME"])
        settings_dict = {**settings_dict, "HOST": host, "PORT": port}
        super().__init__(settings_dict, alias)
