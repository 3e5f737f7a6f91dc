"""Plasma-input and reference-tissue kinetic modelling (compartment models, graphical methods, fits)."""
