"""Production server: gunicorn with sync workers, the app preloaded once in the master."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from web import create_app

        return create_app()


def run_gunicorn(*, host: str, port: int, workers: int, access_log: str = "-") -> None:
    """Serve ``create_app()`` under gunicorn (blocks)."""
    _Gunicorn({
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "sync",
        "preload_app": True,
        "accesslog": access_log,
        "errorlog": "-",
        "keepalive": 5,
    }).run()
