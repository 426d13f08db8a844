"""Tests of the function service, one module per module of app/."""
