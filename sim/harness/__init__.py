"""Reusable cocotb harness: stream drivers and monitors, scoreboard, runner wrapper."""
