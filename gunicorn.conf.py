"""gunicorn's settings for every way Frontdesk is served (gunicorn reads ./gunicorn.conf.py by itself:
`make demo`, the Docker image, the benchmarks and the tests all start it from this directory).

uvicorn's own worker class runs config.asgi:application in each worker process.
"""

worker_class = "uvicorn_worker.UvicornWorker"
