"""Tool adapters, one module per connector: the code that talks to the systems an action changes.

``internal`` writes notes and tasks to our own table; ``crm`` calls the CRM (``allowlist`` guards its origin).
"""
