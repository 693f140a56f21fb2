# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils is PRIVATE to lbops.haproxy. It may change at any time,
# without notice. Do not use it from other collections or roles.

"""Waiting, in one place: deadlines and bounded polling.

Every loop that waits for HAProxy (a server draining, entries in use) goes
through :class:`Waiter`, so that the same rules hold everywhere: a deadline
that is a deadline, never less than ``MIN_INTERVAL`` between two polls (a
wait never floods the socket it waits on), and a clock and a sleep that the
tests replace.
"""

import time

# The shortest pause between two polls, whatever a caller asks for.
MIN_INTERVAL = 0.1


class Deadline(object):
    """A point in time ``seconds`` from now, by a monotonic clock."""

    def __init__(self, seconds, clock=time.monotonic):
        self.clock = clock
        self.end = clock() + max(0.0, float(seconds))

    def remaining(self):
        return max(0.0, self.end - self.clock())

    def expired(self):
        return self.clock() >= self.end


class Waiter(object):
    """Polls until a condition holds or ``timeout`` seconds have passed.

    ``sleep`` and ``clock`` are injectable; ``interval`` is clamped to at least
    ``MIN_INTERVAL``. The number of pauses is bounded too (``timeout /
    interval`` and one more): a clock that does not move, or a sleep that
    returns at once, cannot turn a wait into a flood of polls.
    """

    def __init__(self, timeout, interval=1.0, clock=time.monotonic, sleep=time.sleep):
        self.timeout = float(timeout)
        self.interval = max(MIN_INTERVAL, float(interval))
        self.clock = clock
        self.sleep = sleep
        self.deadline = Deadline(self.timeout, clock)
        self.polls = 0
        self.pauses = 0
        self.max_pauses = int(self.timeout / self.interval) + 1

    def remaining(self):
        return self.deadline.remaining()

    def expired(self):
        return self.deadline.expired() or self.pauses >= self.max_pauses

    def pause(self):
        """Sleep until the next poll (or the deadline, if sooner); False when time is up."""
        if self.deadline.expired() or self.pauses >= self.max_pauses:
            return False
        self.pauses += 1
        self.sleep(min(self.interval, self.deadline.remaining()))
        return True

    def until(self, probe, first=None):
        """Call ``probe()`` -> ``(done, value)`` until done or the deadline.

        ``first`` is a ``(done, value)`` already at hand (a reading made
        anyway), used instead of the first probe. Returns the last
        ``(done, value)``.
        """
        done, value = first if first is not None else self._probe(probe)
        while not done and self.pause():
            done, value = self._probe(probe)
        return done, value

    def _probe(self, probe):
        self.polls += 1
        return probe()
