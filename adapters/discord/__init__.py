"""The Discord adapter: discord.py around the core, registered as the `discord` entry point."""
