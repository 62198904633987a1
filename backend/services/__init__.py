"""Business rules, once. Views call these; only this layer touches the session or Redis."""
