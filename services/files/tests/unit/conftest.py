"""The files service's unit tests parse real bytes built in the tests themselves."""

from __future__ import annotations

import sys
from pathlib import Path

# Tests import the shared helpers (`files_testkit`) as a sibling module; pytest runs with
# --import-mode=importlib, which does not put the test directory on sys.path by itself.
sys.path.insert(0, str(Path(__file__).resolve().parent))
