"""A throwaway Prometheus (the Debian 2.42 binary) on a free loopback port, scraping one target every
second. Every wait is bounded; the process is always stopped."""

from __future__ import annotations

import json
import math
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy_support.tools import tool

START_TIMEOUT_S = 30
HTTP_TIMEOUT_S = 5


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrometheusServer:
    def __init__(self, workdir: Path, target: str) -> None:
        self.workdir = workdir
        self.port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": "synthetic", "honor_labels": True,
                                "static_configs": [{"targets": [target]}]}],
        }
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.log_path = workdir / "prometheus.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(tool("prometheus")), f"--config.file={self.config_path}",
                 f"--storage.tsdb.path={self.workdir / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
                 "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"prometheus exited with {self.process.returncode}:\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=HTTP_TIMEOUT_S) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        pytest.fail(f"prometheus not ready within {START_TIMEOUT_S}s:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def query(self, promql: str) -> Any:
        """Instant query; returns what Argo's Prometheus provider hands to conditions: a scalar as a
        float, a vector as a list of floats."""
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as response:
            body = json.load(response)
        if body["status"] != "success":
            raise RuntimeError(f"query failed: {body}")
        data = body["data"]
        if data["resultType"] == "scalar":
            return float(data["result"][1])
        if data["resultType"] == "vector":
            return [float(sample["value"][1]) for sample in data["result"]]
        raise RuntimeError(f"unsupported result type {data['resultType']}")

    def wait_for_history(self, seconds: int, timeout_s: int) -> None:
        """Block until the target has been scraped for `seconds` (so every test window is full)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            samples = self.query(f'count_over_time(up{{job="synthetic"}}[{seconds + 30}s])')
            healthy = self.query('up{job="synthetic"}')
            if samples and healthy == [1.0] and samples[0] >= seconds and not math.isnan(samples[0]):
                return
            time.sleep(1)
        pytest.fail(f"no {seconds}s of scrapes within {timeout_s}s:\n{self.log_path.read_text()}")
