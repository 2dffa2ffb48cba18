"""Serving: the model registry view (MLflow), and later the model server and endpoints."""
