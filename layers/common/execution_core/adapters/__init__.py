"""Tool adapters: the code that talks to the systems an action changes."""
