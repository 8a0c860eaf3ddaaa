"""The notifier: owns contacts (encrypted), reminders and deliveries; the only service that talks to Twilio."""
