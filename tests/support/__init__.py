"""Test support packages: stand-ins for the systems the product talks to."""
