"""The scheduler's settings: the common ones, its worker and how slots are laid out (no data key, no Twilio)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from shared.settings import DatabaseUrl, MetricsPort, WorkerSettings


class SchedulerSettings(WorkerSettings):
    """Read once by `python -m scheduler`, passed to `scheduler.app.build`."""

    scheduler_database_url: DatabaseUrl = ""
    scheduler_metrics_port: MetricsPort = 9101  # /metrics on METRICS_HOST (shared.metrics)
    # Slots start every SLOT_STEP_MINUTES from a window's opening; the minimum notice, buffers and horizon belong
    # to each appointment type (scheduler tables), not to the deployment.
    slot_step_minutes: int = Field(default=30, ge=5, le=240)
    # Kept free between appointments of one counsellor in different towns (phone and video need none).
    travel_buffer_minutes: int = Field(default=60, ge=0, le=480)
    # Video appointments: the link is this base plus a random room name per appointment (a self-hosted Jitsi, say).
    video_base_url: str = Field(default="https://meet.example.org", pattern=r"^https?://[^\s?#]+$", max_length=200)

    @model_validator(mode="after")
    def _embedded_scheduler_database(self) -> Self:
        self.scheduler_database_url = self.scheduler_database_url or self.embedded_database_url("scheduler")
        return self
