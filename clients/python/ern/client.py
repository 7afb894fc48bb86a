"""ern.Client: search jobs, the model registry and Denoise over gRPC."""

from __future__ import annotations

import os
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import grpc
import numpy as np
import yaml

from ern.errors import ErnError
from ern.images import from_raw, to_raw
from ern.types import Job, JobEvent, Model
from ern.v1 import (denoise_pb2, denoise_pb2_grpc, models_pb2, models_pb2_grpc, search_pb2,
                    search_pb2_grpc)

# Requests above this go through DenoiseStream, as ernctl does: a server's unary limit may be lower
# than the image.
UNARY_BYTES = 16 << 20
CHUNK_BYTES = 1 << 20
DEFAULT_SERVER = "127.0.0.1:50051"

Image = Union[np.ndarray, bytes]
Spec = Union[str, os.PathLike, dict]


class Client:
    """A connection to an ERN coordinator (or an ``ern-serve`` replica, for ``denoise``).

    ``target`` is HOST:PORT or ``dns:///NAME:PORT`` (balanced round_robin over every address
    the name has); without one, ``$ERN_SERVER`` or 127.0.0.1:50051. ``token`` is the bearer
    token (else ``$ERN_TOKEN``); ``ca`` a PEM file that makes the channel TLS (else
    ``$ERN_CA``; without either the channel is plaintext, which servers accept on loopback
    only). ``timeout`` bounds every call but ``watch``, in seconds.
    """

    def __init__(self, target: Optional[str] = None, token: Optional[str] = None,
                 ca: Optional[str] = None, timeout: float = 600.0):
        self.target = target or os.environ.get("ERN_SERVER") or DEFAULT_SERVER
        token = token if token is not None else os.environ.get("ERN_TOKEN", "")
        ca = ca if ca is not None else os.environ.get("ERN_CA", "")
        self._metadata: Tuple[Tuple[str, str], ...] = (
            (("authorization", f"Bearer {token}"),) if token else ())
        self._timeout = timeout
        options = [("grpc.max_receive_message_length", 2 * UNARY_BYTES + (1 << 20)),
                   ("grpc.max_send_message_length", UNARY_BYTES + (1 << 20))]
        if self.target.startswith("dns:///"):
            options.append(("grpc.lb_policy_name", "round_robin"))
        if ca:
            with open(ca, "rb") as pem:
                credentials = grpc.ssl_channel_credentials(root_certificates=pem.read())
            self._channel = grpc.secure_channel(self.target, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(self.target, options=options)
        self._search = search_pb2_grpc.SearchServiceStub(self._channel)
        self._models = models_pb2_grpc.ModelServiceStub(self._channel)
        self._denoise = denoise_pb2_grpc.DenoiseServiceStub(self._channel)

    def close(self) -> None:
        """Closes the channel; the client cannot be used afterwards."""
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def _call(self, method, request, name: str):
        try:
            return method(request, timeout=self._timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise ErnError.from_rpc(error, name) from None

    # Denoise

    def denoise(self, image: Image, model: Optional[str] = None,
                output_format: Optional[str] = None) -> Image:
        """Denoises one image with ``model`` (id or name; the default model when None).

        ``image`` is a numpy array (H x W or H x W x C, C in 1, 3, 4; uint8 or uint16), which
        comes back as an array of the same shape and dtype, or an encoded image (PNG, JPEG, WebP,
        TIFF bytes), which comes back encoded as it came (or as ``output_format``: png, jpeg,
        webp, tiff). Images above 16 MiB are streamed.
        """
        request = denoise_pb2.DenoiseRequest(model=model or "")
        if isinstance(image, (bytes, bytearray, memoryview)):
            request.image = bytes(image)
            request.output_format = output_format or ""
            size = len(request.image)
        else:
            if output_format not in (None, "raw"):
                raise ValueError("output_format: an array comes back as an array (raw)")
            request.raw.CopyFrom(to_raw(image))
            request.output_format = "raw"
            size = len(request.raw.pixels)
        response = (self._denoise_streamed(request) if size > UNARY_BYTES else
                    self._call(self._denoise.Denoise, request, "Denoise"))
        if response.HasField("raw"):
            return from_raw(response.raw, np.ndim(image))
        return response.image

    def _denoise_streamed(self, request: denoise_pb2.DenoiseRequest) -> denoise_pb2.DenoiseResponse:
        raw = request.HasField("raw")
        payload = request.raw.pixels if raw else request.image
        first = denoise_pb2.DenoiseRequest()
        first.CopyFrom(request)
        if raw:
            first.raw.pixels = b""
        else:
            first.image = b""

        def messages():
            yield denoise_pb2.DenoiseStreamRequest(request=first)
            for at in range(0, len(payload), CHUNK_BYTES):
                yield denoise_pb2.DenoiseStreamRequest(chunk=payload[at:at + CHUNK_BYTES])

        response = denoise_pb2.DenoiseResponse()
        chunks = []
        try:
            for message in self._denoise.DenoiseStream(messages(), timeout=self._timeout,
                                                       metadata=self._metadata):
                if message.HasField("response"):
                    response.CopyFrom(message.response)
                chunks.append(message.chunk)
        except grpc.RpcError as error:
            raise ErnError.from_rpc(error, "DenoiseStream") from None
        if response.HasField("raw"):
            response.raw.pixels = b"".join(chunks)
        else:
            response.image = b"".join(chunks)
        return response

    # Search jobs

    def submit_search(self, spec: Spec, team: Optional[str] = None, priority: int = 0,
                      max_attempts: int = 0, sweep: Optional[str] = None) -> Job:
        """Submits a search job. ``spec`` is a path to a YAML file, YAML text, or a dict of the
        same fields (configs/search/demo.yaml shows them); ``sweep`` files it in a sweep group.
        Returns the QUEUED job."""
        request = search_pb2.SubmitSearchJobRequest(spec_yaml=_spec_yaml(spec), team=team or "",
                                                    priority=priority,
                                                    max_attempts=max_attempts,
                                                    sweep=sweep or "")
        return Job.from_proto(self._call(self._search.SubmitSearchJob, request,
                                         "SubmitSearchJob"))

    def job(self, job_id: str) -> Job:
        """One job by id."""
        return Job.from_proto(self._call(self._search.GetJob,
                                         search_pb2.GetJobRequest(id=job_id), "GetJob"))

    def jobs(self, state: Optional[str] = None, team: Optional[str] = None,
             sweep: Optional[str] = None) -> List[Job]:
        """Every job, newest first; only those in ``state`` (QUEUED, RUNNING, SUCCEEDED, FAILED,
        CANCELLED), of ``team`` and of ``sweep`` when given."""
        state_value = 0
        if state is not None:
            try:
                state_value = search_pb2.JobState.Value(state.upper())
            except ValueError:
                raise ValueError(f"state: unknown job state '{state}'") from None
        jobs: List[Job] = []
        page_token = ""
        while True:
            request = search_pb2.ListJobsRequest(state=state_value, team=team or "",
                                                 sweep=sweep or "", page_size=1000,
                                                 page_token=page_token)
            response = self._call(self._search.ListJobs, request, "ListJobs")
            jobs.extend(Job.from_proto(job) for job in response.jobs)
            page_token = response.next_page_token
            if not page_token:
                return jobs

    def watch(self, job_id: str) -> Iterator[JobEvent]:
        """The job as it is now, then one event per change until it ends."""
        try:
            for event in self._search.WatchJob(search_pb2.WatchJobRequest(id=job_id),
                                               metadata=self._metadata):
                yield JobEvent.from_proto(event)
        except grpc.RpcError as error:
            raise ErnError.from_rpc(error, "WatchJob") from None

    def wait(self, job_id: str) -> Job:
        """Watches the job until it ends and returns it as it ended."""
        last = None
        for event in self.watch(job_id):
            last = event.job
        return last if last is not None else self.job(job_id)

    def cancel(self, job_id: str) -> Job:
        """Cancels a QUEUED or RUNNING job."""
        return Job.from_proto(self._call(self._search.CancelJob,
                                         search_pb2.CancelJobRequest(id=job_id), "CancelJob"))

    # Model registry

    def models(self) -> List[Model]:
        """Every registered model, newest first."""
        models: List[Model] = []
        page_token = ""
        while True:
            request = models_pb2.ListModelsRequest(page_size=1000, page_token=page_token)
            response = self._call(self._models.ListModels, request, "ListModels")
            models.extend(Model.from_proto(model) for model in response.models)
            page_token = response.next_page_token
            if not page_token:
                return models

    def model(self, name: str) -> Model:
        """One model by id or name."""
        return Model.from_proto(self._call(self._models.GetModel,
                                           models_pb2.GetModelRequest(id=name), "GetModel"))

    def set_default(self, name: str, force: bool = False) -> Model:
        """Makes a model the default. Refused (FAILED_PRECONDITION) when it fails the quality
        gate against the current default, unless ``force``."""
        request = models_pb2.SetDefaultModelRequest(id=name, force=force)
        return Model.from_proto(self._call(self._models.SetDefaultModel, request,
                                           "SetDefaultModel"))


def _spec_yaml(spec: Spec) -> str:
    if isinstance(spec, dict):
        return yaml.safe_dump(spec, sort_keys=False)
    if isinstance(spec, os.PathLike) or (isinstance(spec, str) and "\n" not in spec
                                         and os.path.isfile(spec)):
        with open(spec, encoding="utf-8") as file:
            return file.read()
    if isinstance(spec, str):
        return spec
    raise TypeError(f"spec: expected a path, YAML text or a dict, got {type(spec).__name__}")
