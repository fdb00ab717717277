"""The review web app and the export of reviewers' corrections as gold data."""

from pipeline.review.app import ReviewSetupError, create_app, serve
from pipeline.review.corrections import export_corrections

__all__ = ["ReviewSetupError", "create_app", "export_corrections", "serve"]
