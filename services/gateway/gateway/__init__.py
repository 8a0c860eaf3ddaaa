"""The gateway: the only HTTP port. Public booking API and page, (later) Twilio webhooks and staff pages."""
