# The reference architecture's app (docs/reference-architecture.md), as its peer in bench/:
# GET / rolls a d6 and returns it as text; prometheus-flask-exporter serves /metrics.
# Run by bench/run.ts under gunicorn (gunicorn.conf.py), from the venv bench/lib/flask-venv.ts makes.
import os
import random

from flask import Flask

app = Flask(__name__)

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # More than one gunicorn worker: each worker is a process, so the exporter must aggregate
    # their metrics from files (prometheus_client's multiprocess mode), or /metrics would answer
    # for whichever worker took the scrape.
    from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

    metrics = GunicornInternalPrometheusMetrics(app)
else:
    from prometheus_flask_exporter import PrometheusMetrics

    metrics = PrometheusMetrics(app)


@app.route("/")
def roll():
    return str(random.randint(1, 6))
