"""The operator's console (/admin): people, live calls, usage and cost, and the audit log of admin actions."""
