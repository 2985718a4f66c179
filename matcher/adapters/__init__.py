"""Adapters of the matcher ports; only this package imports heavy libraries (qdrant, torch)."""
