"""The admins' health view: queues and dead letters on the broker, and what every process last said about itself
in its heartbeat (shared.heartbeat), kept in the gateway's own table so that every gateway replica shows the same."""
