"""The analyst web app (FastAPI, server-rendered pages and a JSON API); see ``app``."""

from pipeline.web.app import create_app

__all__ = ["create_app"]
