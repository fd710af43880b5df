"""Inference clients that stream frames to a model server."""
