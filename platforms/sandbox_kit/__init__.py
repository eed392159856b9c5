"""Shared parts of the platform emulators: threaded HTTP serving, fault injection, TLS, OAuth.

Each platform's ``sandbox.py`` builds on these; the emulators themselves enforce that
platform's documented limits (see shared/platform-limits.md).
"""

from platforms.sandbox_kit.faults import Fault, FaultPlan
from platforms.sandbox_kit.http import HttpEmulator
from platforms.sandbox_kit.oauth import TokenIssuer

__all__ = ["Fault", "FaultPlan", "HttpEmulator", "TokenIssuer"]
