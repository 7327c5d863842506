"""rj-casework: restorative-justice case workflow service for prisons."""

__version__ = "0.1.0"
