# gunicorn settings of the Flask peer (bench/run.ts passes bind and workers on the command line).
# Defaults otherwise: sync workers, no access log, as the reference app would run.


def child_exit(server, worker):
    # In multiprocess mode, a dead worker's live gauges must be dropped from the shared files.
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

        GunicornInternalPrometheusMetrics.mark_process_dead_on_child_exit(worker.pid)
