# Copyright: lbops.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils is PRIVATE to lbops.haproxy. It may change at any time,
# without notice. Do not use it from other collections or roles.

"""One difference object for every runtime module.

A :class:`Difference` holds, for one target, the state before and after a run
(predicted after, in check mode), either item by item (servers, frontends:
``add(name, before, after)``) or as one whole view (a stick-table selection:
``Difference.whole(before, after)``). The runner turns it into the module's
``diff`` (``before``/``after`` keyed by target) and never interprets it.
"""


class Difference(object):
    def __init__(self):
        self._before = {}
        self._after = {}
        self._whole = False

    @classmethod
    def whole(cls, before, after):
        difference = cls()
        difference._before, difference._after, difference._whole = before, after, True
        return difference

    def add(self, key, before, after):
        if self._whole:
            raise TypeError("a whole-view Difference has no items")
        self._before[key] = before
        self._after[key] = after
        return self

    def with_after(self, after):
        """The same before state with another after state (the re-read one)."""
        if self._whole:
            return Difference.whole(self._before, after)
        difference = Difference()
        difference._before = dict(self._before)
        difference._after = dict(after)
        return difference

    @property
    def before(self):
        return self._before

    @property
    def after(self):
        return self._after

    @property
    def differs(self):
        return self._before != self._after

    def as_dict(self):
        return {"before": self._before, "after": self._after}
