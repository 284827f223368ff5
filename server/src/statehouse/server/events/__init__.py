"""The event stream: tailing the log (``hub``) and fanning it out to subscribers
(``subscriptions``), their sends paced so that requests come first (``pacing``)."""

from .hub import EventHub, HubClosed, Retention
from .subscriptions import Subscription

__all__ = ["EventHub", "HubClosed", "Retention", "Subscription"]
