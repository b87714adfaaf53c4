"""gunicorn's settings for every way Frontdesk is served (gunicorn reads ./gunicorn.conf.py by itself:
`make demo`, the Docker image, the benchmarks and the tests all start it from this directory).

uvicorn's own worker class runs config.asgi:application in each worker process.
"""

worker_class = "uvicorn_worker.UvicornWorker"

# The client's address comes from one place: Django's client_ip (businesses/api/ratelimit.py),
# which reads X-Forwarded-For only as far as TRUSTED_PROXY_COUNT proxies vouch for it. By
# default uvicorn would rewrite the peer address from X-Forwarded-For for any caller on
# 127.0.0.1 (gunicorn's forwarded_allow_ips), so a local caller could pick its own address and
# move a rate limit. No address is trusted here; X-Forwarded-Proto is Django's
# SECURE_PROXY_SSL_HEADER in production.
forwarded_allow_ips = ""

# gunicorn's control socket (for gunicornc) defaults to one path per user, so two servers on one
# machine (the demo and a test's) would fight over it; nothing here uses it.
control_socket_disable = True
