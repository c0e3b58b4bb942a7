"""Starts and stops what the lab runs on one machine: backing servers and the lab's own processes."""
