# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Hypothesis settings of the unit tests: deterministic and bounded.

The profile ``lbops`` (the default) derandomizes every property (the examples
are a function of the test alone: the same on every run, every machine, every
line), keeps no example database (nothing written next to the collection copy)
and bounds the examples and the time of each. ``HYPOTHESIS_PROFILE=explore``
runs many more random examples, to look for new failures by hand.
"""

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

settings.register_profile(
    "lbops",
    derandomize=True,
    database=None,
    max_examples=60,
    # Generous: a loaded 2-core CI machine must not turn a slow example into a failure.
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("explore", parent=settings.get_profile("lbops"), derandomize=False, max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "lbops"))
