"""The dispatcher: claims due messages, renders them and hands them to the SMS provider, once.

A message is claimed (pending → sending) and its delivery row written (queued) in one committed transaction
before the provider is called, so no second dispatcher, retry or redelivery can send it again. If the process
dies during the provider call the delivery stays `queued`: its outcome is unknown, and it is reconciled with the
provider (or settled by the provider's status callback, which carries the delivery's ref), never resent blindly.

Where to read on: `dispatcher` (the loop), `claims` (what is due, and what may go), `sending` (to the provider),
`pacing` (the rate limit), `outcomes` (what the provider said, recorded), `reconciliation` (sends that never
reported back).
"""

from notifier.dispatch.dispatcher import DispatchConfig, Dispatcher

__all__ = ["DispatchConfig", "Dispatcher"]
