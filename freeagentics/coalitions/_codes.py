"""Small integer codes stored in the per-agent and per-coalition arrays."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["CoalitionStatus", "EventKind", "Role"]


class Role(IntEnum):
    """Role of an agent, stored as ``int8`` in :attr:`CoalitionState.role`.

    ``SCOUT`` is part of the code space so that strategies and user code can mark
    agents sent ahead of a coalition; the built-in strategies assign only
    ``LEADER`` and ``MEMBER``.
    """

    NONE = 0
    MEMBER = 1
    LEADER = 2
    SCOUT = 3


class CoalitionStatus(IntEnum):
    """Status of a coalition row, stored as ``int8``."""

    ACTIVE = 1
    DISSOLVED = 2


class EventKind(IntEnum):
    """Kind of a membership event, stored as ``int8``.

    ``FORM`` and ``DISSOLVE`` carry agent ``-1``; ``JOIN`` and ``LEAVE`` name the agent.
    """

    FORM = 1
    JOIN = 2
    LEAVE = 3
    DISSOLVE = 4
