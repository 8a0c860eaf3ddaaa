"""Prometheus metrics of the gateway. Labels hold route templates and codes, never a token or a number."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter("lotse_gateway_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram("lotse_gateway_http_request_seconds", "HTTP request latency", ["route"])
BOOKINGS_ACCEPTED = Counter("lotse_gateway_bookings_accepted_total", "Bookings accepted (202)")
EVENTS_APPLIED = Counter("lotse_gateway_events_total", "Booking events applied", ["type"])
SLOT_SEARCHES = Counter("lotse_gateway_slot_searches_total",
                        "Slot searches by how they were answered: asked (of the scheduler), shared (the answer to the "
                        "same question in flight), remembered (an answer of the last SLOTS_CACHE_SECONDS)", ["answer"])
LIMITED = Counter("lotse_gateway_limited_total", "Requests refused by a limit of gateway.limits (429)", ["limit"])
WEBHOOK_SIGNATURE_FAILURES = Counter("lotse_gateway_webhook_signature_failures_total",
                                     "Twilio webhooks refused because the signature was missing or did not match",
                                     ["webhook", "problem"])
