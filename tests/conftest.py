"""Shared test setup: tests import the factory of tiny packages from this folder."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
