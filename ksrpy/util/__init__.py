"""Small helpers shared by several parts of ksrpy (no SIP, script or module knowledge)."""
