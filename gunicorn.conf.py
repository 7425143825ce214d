"""gunicorn's settings for Termtable, read from the project folder by `gunicorn` itself
(command-line options override them): `.venv/bin/gunicorn` serves `app:create_app()`.

Environment: GUNICORN_BIND (127.0.0.1:8000), WEB_CONCURRENCY (worker processes: one per CPU),
GUNICORN_THREADS (8 per worker), PROMETHEUS_MULTIPROC_DIR (see below).

Metrics from every worker: prometheus-client's multi-process mode keeps each worker's values
in files in PROMETHEUS_MULTIPROC_DIR, which must be empty when the server starts. Set it to a
folder of its own (systemd: RuntimeDirectory=), and its files are removed at start; unset, a
private temporary folder is made here and removed when gunicorn exits. The `child_exit` hook
drops a dead worker's in-progress gauge.
"""

import glob
import os
import shutil
import tempfile

wsgi_app = "app:create_app()"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 1)
# Threaded workers: a login's scrypt (half a second of CPU, outside the GIL) holds one thread,
# not the process (see the README on gunicorn).
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS") or 8)
timeout = 30
# Idle keep-alive connections wait in the worker's poller, not in a thread: keep them longer
# than nginx keeps its upstream connections idle (60 s), so that nginx never reuses one the
# server has just closed (and a browser or a load tester talking to it directly neither).
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE") or 75)
# The app logs each request (JSON, with its id): no second access log.
accesslog = None

# Set before the workers are forked, and so before they import prometheus_client.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="termtable-metrics-")
    os.environ["TERMTABLE_OWN_METRICS_DIR"] = os.environ["PROMETHEUS_MULTIPROC_DIR"]


def on_starting(server):
    # A previous run's values would be added to this one's: only its files go (*.db), never
    # anything else a misconfigured path may hold.
    for path in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
        os.remove(path)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    own = os.environ.get("TERMTABLE_OWN_METRICS_DIR")
    if own and own == os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shutil.rmtree(own, ignore_errors=True)
