"""Exports trained models into a hermes model repository."""
