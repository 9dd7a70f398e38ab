"""Domain services: the rules of the bot, with no knowledge of Discord."""
