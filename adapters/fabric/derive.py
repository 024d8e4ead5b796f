"""A Fabric channel's trust root, read from the crypto material its network writes
(``relayhub appchain trust-root --family fabric --rpc DIR``).

The directory holds ``fabric-network.json`` (docs/fabric.md "Crypto-material
directory")::

    {
      "channel": "relaychannel",
      "chaincode": "broker",
      "endorsement_policy": "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')",
      "attestation_policy": "...",                                  (optional)
      "orderer_threshold": 1,                                       (optional)
      "orgs": {"Org1MSP": "peerOrganizations/org1.example.com/msp/cacerts/ca-cert.pem", ...},
      "orderers": [{"mspid": "OrdererMSP",
                    "cert": "ordererOrganizations/example.com/orderers/orderer0/signcert.pem"}]
    }

where every certificate is a path relative to the directory (inside it) of a PEM
file — cryptogen's layout is a good choice, any other works. The result is the trust
root of :mod:`adapters.fabric.trust_root`, checked before it is returned, so what is
printed is what ``appchain register --trust-root`` accepts. Registered as the
``fabric`` entry point of ``relayhub.trust_roots``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from relay.errors import Code, RelayError

from .trust_root import parse_trust_root

NETWORK_FILE = "fabric-network.json"
_OPTIONAL = ("attestation_policy", "orderer_threshold")


def _config(why: str) -> RelayError:
    return RelayError(Code.CONFIG, f"Fabric crypto material: {why}")


def _read_pem(base: Path, rel: object, what: str) -> str:
    if not isinstance(rel, str) or not rel:
        raise _config(f"{what} must be a path (relative to {base}) of a PEM certificate")
    path = (base / rel).resolve()
    if base not in path.parents:
        raise _config(f"{what}: {rel!r} is outside {base}")
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise _config(f"{what}: cannot read {path}: {exc}") from None


def read_network(source: str | Path) -> dict[str, Any]:
    """The trust root (registration form) described by ``source``: the crypto-material
    directory, its ``fabric-network.json``, or either as a ``file://`` URL."""
    text = str(source)
    if text.startswith("file://"):
        text = text[len("file://") :]
    path = Path(text)
    file = path / NETWORK_FILE if path.is_dir() else path
    base = file.parent.resolve()
    try:
        network = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _config(
            f"cannot read {file}: {exc}; give the directory holding {NETWORK_FILE}"
        ) from None
    except ValueError as exc:
        raise _config(f"{file} is not JSON: {exc}") from None
    if not isinstance(network, dict):
        raise _config(f"{file} must hold a JSON object")
    orgs = network.get("orgs")
    orderers = network.get("orderers")
    if not isinstance(orgs, dict) or not isinstance(orderers, list):
        raise _config(
            f"{file}: 'orgs' must map MSP IDs to CA files, 'orderers' list {{mspid, cert}}"
        )
    root: dict[str, Any] = {
        "channel": network.get("channel"),
        "chaincode": network.get("chaincode"),
        "orgs": {m: _read_pem(base, p, f"orgs[{m!r}]") for m, p in orgs.items()},
        "endorsement_policy": network.get("endorsement_policy"),
        "orderers": [
            {
                "mspid": o.get("mspid") if isinstance(o, dict) else None,
                "cert": _read_pem(
                    base, o.get("cert") if isinstance(o, dict) else None, f"orderers[{i}].cert"
                ),
            }
            for i, o in enumerate(orderers)
        ],
    }
    for key in _OPTIONAL:
        if key in network:
            root[key] = network[key]
    return root


def derive_trust_root(
    source: str, mode: str = "seal", notaries: Sequence[str] = (), threshold: int | None = None
) -> dict[str, Any]:
    """The trust root for the Fabric network whose crypto material is at ``source``
    (``--rpc DIR``); ``threshold`` (``--threshold``) sets the orderer threshold."""
    if mode != "seal" or notaries:
        raise RelayError(
            Code.CONFIG,
            "a Fabric trust root is read from the network's crypto material: --rpc DIR only "
            "(no --mode notary, no --notary); the orderers sign the blocks",
        )
    root = read_network(source)
    if threshold is not None:
        root["orderer_threshold"] = threshold
    return parse_trust_root(root).to_dict()  # 3007 naming what is wrong, before anyone uses it
