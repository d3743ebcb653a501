"""Sharing the history between computers through a folder that a sync service keeps in step.

Each device writes only its own append-only files (segments, each checksummed, plus a manifest)
into `FOLDER/posture-agent/<device id>/` and merges the other devices' files into its own database
by UUID. The live SQLite file never goes into the folder. See docs/sync.md.
"""
