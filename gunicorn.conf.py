"""gunicorn's settings for every way Frontdesk is served (gunicorn reads ./gunicorn.conf.py by itself:
`make demo`, the Docker image, the benchmarks and the tests all start it from this directory).

reuse_port: each worker binds its own SO_REUSEPORT socket and the kernel spreads new
connections over them. With one shared socket the worker that wakes first accepts most of a
burst of keep-alive connections and keeps them: at 64 clients one worker served 60 and the other
4, and the busy one's queue was everybody's latency (docs/benchmarks.md, "API overhead").
The price: connections still waiting in a worker's own queue when that worker dies are reset
(a shared socket would have handed them to a sibling); gunicorn starts a new worker at once.
"""

reuse_port = True
