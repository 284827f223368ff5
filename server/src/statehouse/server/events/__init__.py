"""The event stream: tailing the log and fanning it out to subscribers."""

from .hub import EventHub, HubClosed, Retention, Subscription

__all__ = ["EventHub", "HubClosed", "Retention", "Subscription"]
