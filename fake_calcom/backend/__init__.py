"""The fake's state and Cal.com's rules: plain synchronous Python, no aiohttp (contracts §1.1)."""
