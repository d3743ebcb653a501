"""The agent: APScheduler wakes a prompt service that shows what is due and publishes events;
notifications, the tray and tests subscribe. No GUI is imported here (see docs/agent.md)."""
