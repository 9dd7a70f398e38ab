"""Rendering shared by cogs: embeds, progress bars, paginator, confirm buttons."""
