"""The `ern` Python client against a live coordinator (embedded worker and device farm) on loopback.

usage: client_test.py BIN_DIR SOURCE_DIR TEST_DATA_DIR   (PYTHONPATH must hold build/python)
"""

import base64
import io
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

import grpc
import numpy as np
from PIL import Image

import ern
import ern.client

BIN_DIR, SOURCE_DIR, TEST_DATA = sys.argv[1:4]


def tiny_spec():
    return {
        "name": "tiny",
        "device": "cpu-1t",
        "data": TEST_DATA,
        "architecture": {"width": 8, "encoder_blocks": [1, 1], "middle_blocks": 1,
                         "decoder_blocks": [1, 1]},
        "training": {"batch": 2, "patch": 32},
        "stages": {"warmup_steps": 10, "search_steps": 10, "finetune_steps": 10,
                   "checkpoint_every": 20},
        "search": {"alpha_learning_rate": 0.05, "lambda_latency": 0.2},
        "latency": {"size": [96, 96]},
        "evaluation": {"sigmas": [25]},
    }


class Coordinator:
    """An ern-coordinator with the shipped models, one embedded worker and an embedded farm."""

    def __init__(self, directory):
        config = os.path.join(directory, "coordinator.yaml")
        with open(config, "w") as file:
            file.write(f"shipped_models: {{directory: {SOURCE_DIR}/models, default: nafnet-base}}\n"
                       "promotion: {images: ''}\n")
        self.data = os.path.join(directory, "coordinator")
        self.log_path = os.path.join(directory, "coordinator.log")
        self.process = subprocess.Popen(
            [os.path.join(BIN_DIR, "ern-coordinator"), "--config", config, "--listen",
             "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--data", self.data,
             "--embedded-workers", "1", "--embedded-devicefarm", "--devicefarm-config",
             os.path.join(SOURCE_DIR, "configs/devicefarm.yaml"), "--worker-data-roots",
             TEST_DATA, "--heartbeat-ms", "200", "--lease-ms", "5000"],
            stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT)
        self.address = self._wait_for(r"coordinator listening on (\S+)")
        with open(os.path.join(self.data, "admin.token")) as file:
            self.token = file.read().strip()

    def _wait_for(self, pattern):
        deadline = time.time() + 120
        while time.time() < deadline:
            with open(self.log_path) as file:
                found = re.search(pattern, file.read(), re.IGNORECASE)
            if found:
                return found.group(1)
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"coordinator did not start:\n{self.log()}")

    def log(self):
        with open(self.log_path) as file:
            return file.read()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=60)


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.mkdtemp(prefix="ern-python-client-")
        cls.coordinator = Coordinator(cls.directory)
        cls.client = ern.Client(cls.coordinator.address, token=cls.coordinator.token)
        photos = sorted(os.listdir(os.path.join(TEST_DATA, "val")))
        cls.photo = os.path.join(TEST_DATA, "val", photos[0])

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.coordinator.stop()

    def ernctl(self, *args):
        return subprocess.run([os.path.join(BIN_DIR, "ernctl"), *args, "--server",
                               self.coordinator.address, "--token", self.coordinator.token],
                              capture_output=True, text=True)

    def crop_png(self, size):
        """A crop of a test photograph, PNG-encoded, and its pixels."""
        pixels = np.asarray(Image.open(self.photo).convert("RGB"))[:size, :size]
        encoded = io.BytesIO()
        Image.fromarray(pixels).save(encoded, format="PNG")
        return encoded.getvalue(), pixels

    def test_denoise_equals_ernctl_for_encoded_images_and_arrays(self):
        png, pixels = self.crop_png(160)
        source = os.path.join(self.directory, "in.png")
        with open(source, "wb") as file:
            file.write(png)
        output = os.path.join(self.directory, "out.png")
        done = self.ernctl("denoise", source, "-o", output)
        self.assertEqual(done.returncode, 0, done.stderr)
        with open(output, "rb") as file:
            by_ernctl = file.read()
        self.assertEqual(self.client.denoise(png), by_ernctl)
        expected = np.asarray(Image.open(io.BytesIO(by_ernctl)))
        clean = self.client.denoise(pixels)
        self.assertEqual(clean.dtype, np.uint8)
        self.assertEqual(clean.shape, pixels.shape)
        np.testing.assert_array_equal(clean, expected)
        self.assertGreater(np.abs(clean.astype(int) - pixels.astype(int)).sum(), 0)

    def test_gray_and_sixteen_bit_arrays_come_back_as_they_went(self):
        _, pixels = self.crop_png(64)
        gray = pixels[:, :, 1]
        self.assertEqual(self.client.denoise(gray).shape, gray.shape)
        deep = pixels.astype(np.uint16) * 257
        clean = self.client.denoise(deep)
        self.assertEqual(clean.dtype, np.uint16)
        self.assertEqual(clean.shape, deep.shape)

    def test_large_images_are_streamed_with_the_same_result(self):
        png, pixels = self.crop_png(160)
        unary_png, unary_array = self.client.denoise(png), self.client.denoise(pixels)
        threshold = ern.client.UNARY_BYTES
        ern.client.UNARY_BYTES = 4096  # both inputs are above it now
        try:
            self.assertEqual(self.client.denoise(png), unary_png)
            np.testing.assert_array_equal(self.client.denoise(pixels), unary_array)
        finally:
            ern.client.UNARY_BYTES = threshold

    def test_submit_watch_succeeds_and_registers_the_model(self):
        job = self.client.submit_search(tiny_spec(), team="vision")
        self.assertEqual(job.team, "vision")
        self.assertIn(job.state, ("QUEUED", "RUNNING"))
        events = list(self.client.watch(job.id))
        self.assertEqual(events[0].kind, "SNAPSHOT")
        self.assertIn("STAGE", {event.kind for event in events})
        finished = events[-1].job
        self.assertEqual(finished.state, "SUCCEEDED", finished.failure_reason)
        self.assertTrue(finished.finished)
        self.assertEqual(self.client.job(job.id).state, "SUCCEEDED")
        self.assertIn(job.id, [j.id for j in self.client.jobs(state="SUCCEEDED", team="vision")])
        self.assertNotIn(job.id, [j.id for j in self.client.jobs(state="FAILED")])
        model = self.client.model(finished.model)
        self.assertEqual(model.source, "search")
        self.assertEqual(model.job_id, job.id)
        self.assertIn(model.id, [m.id for m in self.client.models()])
        self.check_report(job.id)

    def check_report(self, job_id):
        """ernctl search report draws every figure of the job's report into one HTML page."""
        page = os.path.join(self.directory, "report.html")
        drawn = self.ernctl("search", "report", job_id, "-o", page)
        self.assertEqual(drawn.returncode, 0, drawn.stderr)
        with open(page) as file:
            text = file.read()
        figures = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', text)
        self.assertEqual([alt for alt, _ in figures],
                         ["derived genotype", "alpha probabilities per block",
                          "normalized entropy per block", "expected latency", "losses"])
        for alt, data in figures:
            image = Image.open(io.BytesIO(base64.b64decode(data)))
            self.assertGreater(image.width * image.height, 100 * 100, alt)
        self.assertIn("<th>baseline NAFNet</th><th>ERN-Net</th>", text)

    def test_a_sweep_runs_one_job_per_weight_and_its_front_marks_the_pareto_optimal(self):
        import json
        import yaml
        path = os.path.join(self.directory, "sweep.yaml")
        with open(path, "w") as file:
            yaml.safe_dump(tiny_spec(), file)
        swept = self.ernctl("search", "sweep", path, "--lambda-latency", "0,2", "--name", "tiny-s")
        self.assertEqual(swept.returncode, 0, swept.stderr)
        self.assertEqual(swept.stdout.strip().splitlines()[-1], "tiny-s")
        members = self.client.jobs(sweep="tiny-s")
        self.assertEqual(len(members), 2)
        self.assertEqual({job.sweep for job in members}, {"tiny-s"})
        for job in members:
            self.assertEqual(self.client.wait(job.id).state, "SUCCEEDED")
        front = self.ernctl("search", "front", "tiny-s", "--json", "-o",
                            os.path.join(self.directory, "front.html"))
        self.assertEqual(front.returncode, 0, front.stderr)
        points = json.loads(front.stdout)["jobs"]
        self.assertEqual(sorted(point["lambda_latency"] for point in points), [0, 2])
        self.assertTrue(any(point["pareto"] for point in points))
        for point in points:
            dominated = any(other["latency_ms"] <= point["latency_ms"]
                            and other["psnr_25"] >= point["psnr_25"] and other is not point
                            and (other["latency_ms"], other["psnr_25"]) !=
                            (point["latency_ms"], point["psnr_25"]) for other in points)
            self.assertEqual(point["pareto"], not dominated, points)
        with open(os.path.join(self.directory, "front.html")) as file:
            self.assertIn('alt="sweep Pareto front"', file.read())
        listed = self.ernctl("search", "list", "--sweep", "tiny-s")
        self.assertEqual(len(listed.stdout.strip().splitlines()), 3, listed.stdout)  # header + 2
        self.assertEqual(self.ernctl("search", "front", "no-such-sweep").returncode, 3)

    def test_spec_as_path_and_as_text_and_cancel(self):
        import yaml
        spec = tiny_spec()
        spec["stages"]["search_steps"] = 100000
        path = os.path.join(self.directory, "long.yaml")
        with open(path, "w") as file:
            yaml.safe_dump(spec, file)
        from_path = self.client.submit_search(path, priority=5)
        self.assertEqual(from_path.priority, 5)
        self.assertEqual(self.client.cancel(from_path.id).state, "CANCELLED")
        from_text = self.client.submit_search(yaml.safe_dump(spec))
        self.assertEqual(self.client.cancel(from_text.id).state, "CANCELLED")

    def test_registry_lists_the_shipped_default(self):
        models = self.client.models()
        default = [m for m in models if m.is_default]
        self.assertEqual([m.name for m in default], ["nafnet-base"])
        self.assertEqual(self.client.set_default("nafnet-base").name, "nafnet-base")

    def test_errors_carry_the_status_code_and_the_servers_message(self):
        def code_of(call):
            with self.assertRaises(ern.ErnError) as raised:
                call()
            return raised.exception

        missing = code_of(lambda: self.client.job("job-that-does-not-exist"))
        self.assertEqual(missing.code, grpc.StatusCode.NOT_FOUND)
        bad = code_of(lambda: self.client.submit_search(dict(tiny_spec(), training={"batch": 0})))
        self.assertEqual(bad.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("training.batch", bad.message)
        self.assertEqual(code_of(lambda: self.client.model("no-such-model")).code,
                         grpc.StatusCode.NOT_FOUND)
        self.assertEqual(code_of(lambda: self.client.denoise(b"not an image")).code,
                         grpc.StatusCode.INVALID_ARGUMENT)
        with ern.Client(self.coordinator.address, token="not-a-token") as stranger:
            self.assertEqual(code_of(stranger.models).code, grpc.StatusCode.UNAUTHENTICATED)
        with self.assertRaises(ValueError):
            self.client.denoise(np.zeros((8, 8, 3), dtype=np.float32))
        with self.assertRaises(ValueError):
            self.client.jobs(state="SLEEPING")


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
