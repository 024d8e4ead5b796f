"""Settings shared by the whole suite.

Hypothesis runs with no per-example deadline and without the ``too_slow`` health
check: CI shares two cores with relay, chain and gateway processes of other tests,
and the first example of a module also pays for cold imports, so wall-clock checks
would fail for reasons unrelated to the code under test. The number of examples
stays bounded per test (``max_examples``), which keeps every test's run bounded.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile("relayhub", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("relayhub")
