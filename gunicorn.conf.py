"""gunicorn's settings for every way Frontdesk is served (gunicorn reads ./gunicorn.conf.py by itself:
`make demo`, the Docker image, the benchmarks and the tests all start it from this directory).

worker_class: uvicorn's worker with keep-alive connections balanced over the workers
(config/server.py). All workers accept from gunicorn's one listening socket; a worker that
holds more connections than a sibling leaves a new one to that sibling for up to 20 ms. At 64
keep-alive clients that splits them 32/32, where a shared socket with plain uvicorn workers gave
60/4 and a socket per worker (SO_REUSEPORT, hashed) splits like 26/38 (docs/benchmarks.md,
"API overhead"). A shared socket also hands connections still queued when a worker dies to its
siblings instead of resetting them.
"""

worker_class = "config.server.Worker"
