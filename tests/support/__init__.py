"""Test support: what tests share and the product never imports."""
