"""Tests of the front door (lab/), one module per module they test."""
