"""Plain, typed views of the wire messages: what the client returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from ern.v1 import models_pb2, search_pb2


@dataclass(frozen=True)
class Job:
    """A search job as the coordinator sees it (``state`` is QUEUED, RUNNING, SUCCEEDED, ...)."""

    id: str
    name: str
    team: str
    state: str
    stage: str
    step: int
    total_steps: int
    priority: int
    attempts: int
    model: str
    failure_reason: str
    device: str
    loss: float
    expected_latency_ms: float
    normalized_entropy: float
    world_size: int
    sweep: str = ""
    workers: List[str] = field(default_factory=list)
    created_unix_ms: int = 0
    finished_unix_ms: int = 0

    @property
    def finished(self) -> bool:
        """True once the job can no longer change (SUCCEEDED, FAILED or CANCELLED)."""
        return self.state in ("SUCCEEDED", "FAILED", "CANCELLED")

    @classmethod
    def from_proto(cls, job: search_pb2.Job) -> "Job":
        workers = ([job.worker] if job.worker else []) + list(job.gang_workers)
        return cls(
            id=job.id,
            name=job.name,
            team=job.team,
            state=search_pb2.JobState.Name(job.state),
            stage=job.stage,
            step=job.step,
            total_steps=job.total_steps,
            priority=job.priority,
            attempts=job.attempts,
            model=job.model,
            failure_reason=job.failure_reason,
            device=job.device,
            loss=job.loss,
            expected_latency_ms=job.expected_latency_ms,
            normalized_entropy=job.normalized_entropy,
            world_size=job.world_size,
            sweep=job.sweep,
            workers=workers,
            created_unix_ms=job.created_unix_ms,
            finished_unix_ms=job.finished_unix_ms,
        )


@dataclass(frozen=True)
class JobEvent:
    """One change of a watched job: ``kind`` is SNAPSHOT, STATE, STAGE or PROGRESS."""

    kind: str
    job: Job

    @classmethod
    def from_proto(cls, event: search_pb2.JobEvent) -> "JobEvent":
        return cls(search_pb2.JobEvent.Kind.Name(event.kind), Job.from_proto(event.job))


@dataclass(frozen=True)
class QualityScore:
    """A model's score on the coordinator's promotion images at one noise level."""

    psnr: float
    ssim: float
    sigma: float
    images: int


@dataclass(frozen=True)
class Lineage:
    """What a searched model's search read: its data and its latency table."""

    data_sha256: str
    latency_device: str
    latency_table_sha256: str
    latency_table_rows: int


@dataclass(frozen=True)
class Model:
    """A registered model."""

    id: str
    name: str
    source: str
    team: str
    params: int
    is_default: bool
    sha256: str
    job_id: str
    promotion: str
    created_unix_ms: int
    quality: Optional[QualityScore] = None
    lineage: Optional[Lineage] = None

    @classmethod
    def from_proto(cls, model: models_pb2.Model) -> "Model":
        quality = None
        if model.HasField("quality"):
            q = model.quality
            quality = QualityScore(q.psnr, q.ssim, q.sigma, q.images)
        lineage = None
        if model.HasField("lineage"):
            lin = model.lineage
            lineage = Lineage(lin.data_sha256, lin.latency_device, lin.latency_table_sha256,
                              lin.latency_table_rows)
        return cls(
            id=model.id,
            name=model.name,
            source=model.source,
            team=model.team,
            params=model.params,
            is_default=model.is_default,
            sha256=model.sha256,
            job_id=model.job_id,
            promotion=model.promotion,
            created_unix_ms=model.created_unix_ms,
            quality=quality,
            lineage=lineage,
        )
