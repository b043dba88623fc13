"""Venue-neutral machinery. Nothing here imports ``wsclients.venues``."""
