"""Booking by SMS: a client's texts as a conversation with a timeout (machine.py, pure), kept per keyed hash of the
number (repository.py), run by the service that searches, books and cancels the way the web does (service.py)."""
