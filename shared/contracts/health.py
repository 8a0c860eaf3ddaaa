"""What each running process says about itself every so often, for the admins' health view (gateway)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from shared.contracts.envelope import Payload, register

# The roles `bash scripts/run.sh` starts (lotse/launcher.py), one heartbeat each per process.
Role = Literal["gateway", "scheduler", "notifier", "notifier-beat"]
# Random per process: it tells two replicas of a role apart without naming a host or a pid.
InstanceId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{12}$")]
Seconds = Annotated[float, Field(ge=0)]


@register
class RoleHeartbeat(Payload):
    """any role → gateway: this process is alive, and what it sees of its own work. A field a role cannot know is
    null (beat has no outbox; only the notifier dispatches). Worthless once a newer one arrived."""

    message_type = "role.heartbeat"
    message_version = 1
    role: Role
    instance: InstanceId
    interval_seconds: Seconds  # the next one follows after this long
    outbox_backlog: Annotated[int, Field(ge=0)] | None = None  # rows of its outbox not yet published
    oldest_unsent_seconds: Seconds | None = None  # age of the oldest of them
    dispatcher_lag_seconds: Seconds | None = None  # how long the oldest due, unclaimed text has been waiting
    last_beat_tick_at: AwareDatetime | None = None  # when this worker last received beat's dispatch tick
