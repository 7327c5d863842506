"""Figures for managers and funders, computed in the database."""
