"""Shared test helpers: run ksrpy as a real process, talk SIP to it over loopback."""
