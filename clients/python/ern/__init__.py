"""ERN's Python client: submit architecture searches, manage the model registry, denoise images.

    import ern
    client = ern.Client("127.0.0.1:50051", token=open("admin.token").read().strip())
    clean = client.denoise(noisy_array)
"""

from ern.client import Client
from ern.errors import ErnError
from ern.types import Job, JobEvent, Lineage, Model, QualityScore

__all__ = ["Client", "ErnError", "Job", "JobEvent", "Lineage", "Model", "QualityScore"]
