"""Notification delivery: an outbox written in the event's own transaction, delivered later.

Other domains call :func:`notifications.service.notify`; they never talk to a channel.
"""
