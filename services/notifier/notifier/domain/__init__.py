"""What the notifier decides in plain Python: what a message says, and when it is due."""
