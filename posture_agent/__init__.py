"""posture-agent: posture nudges, drills and recovery rules for runners who sit all day."""

__version__ = "0.1.0"
