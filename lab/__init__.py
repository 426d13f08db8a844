"""The lab's front door: one module per `make` command (`python -m lab.<command>`), the Pulumi
Automation API stack they drive, and the helpers they and the tests share (lab/support.py)."""
