"""PBFT quorum of FISCO BCOS 2.x. Pure.

FISCO-BCOS ``libconsensus/ConsensusEngineBase.cpp`` (``resetConfig``) sets
``m_f = (m_nodeNum - 1) / 3`` over the sealer list, ``ConsensusEngineBase.h``
defines ``minValidNodes() = m_nodeNum - m_f``, and ``checkSigList`` refuses a
block whose signature list is shorter than ``minValidNodes()``. So a header is
final with ``n - (n - 1) // 3`` sealer signatures — 2f+1 when n = 3f+1 (the
relay counts distinct registered sealers).
"""

from __future__ import annotations


def compute_pbft_quorum(n: int) -> int:
    """Distinct sealer signatures a FISCO PBFT block needs, for ``n >= 1`` sealers."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"a PBFT group has at least one sealer, got {n!r}")
    return n - (n - 1) // 3
