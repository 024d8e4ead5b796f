"""The Fabric family's dev-chain hook for the harness topology (entry point
``relayhub.devchains``: ``fabric``), modelled on the EVM one.

It runs a two-org dev chain in this process (threads: the orderer, one gRPC server per
peer) on the topology's data dir and reports, in plain data (this module imports
neither the relay nor the adapters):

* ``rpc_url``: ``grpc://host:port`` of the first org's peer (gateway, endorser, deliver);
* ``registration``: family ``fabric``, a trust root of the orgs' and the orderer's CA
  certificates (PEM), the channel, and the broker chaincode's endorsement policy (also
  the attestation policy, docs/fabric.md §3.3) — provisional until the Fabric verifier
  (issue 10 part 2) fixes its format;
* ``adapter_config``: the gateway's ``[chain]`` table: channel, peers, the network file
  and the first org's client identity (certificate and key files under ``crypto/``);
* ``services``: ``asset`` and ``data_swap`` when those chaincodes are defined (the
  broker set of ``appchains/fabric/chaincode``; none is by default);
* ``user_keys``: empty — Fabric users are the client identities in ``crypto/``.

The crypto material is in ``<data_dir>/crypto`` (``network.json`` names every file).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import trio
from cryptography.hazmat.primitives import serialization

from appchains.fabric.config import FabricConfig
from appchains.fabric.node import FabricChain, open_fabric_chain

#: Chaincode name -> the service name the topology knows it by.
SERVICES = {"asset": "asset", "dataswap": "data_swap"}
BROKER = "broker"


@dataclass
class FabricDevChain:
    """A running Fabric dev chain as the topology sees it."""

    name: str
    rpc_url: str
    registration: dict[str, Any]
    adapter_config: dict[str, Any]
    services: dict[str, str]
    user_keys: list[str]
    chain: FabricChain | None = field(default=None, repr=False)


def _pem(certificate: Any) -> str:
    return str(certificate.public_bytes(serialization.Encoding.PEM).decode())


def registration(chain: FabricChain) -> dict[str, Any]:
    setup, registry = chain.setup, chain.net.registry
    broker = registry.get(BROKER)
    policy = broker.policy if broker is not None else registry.default_policy
    return {
        "family": "fabric",
        "trust_root": {
            "channel": setup.channel_id,
            "orgs": [{"msp_id": o.msp_id, "ca": _pem(o.ca.certificate)} for o in setup.orgs],
            "orderers": [
                {"msp_id": setup.orderer_ca.msp_id, "ca": _pem(setup.orderer_ca.certificate)}
            ],
            "endorsement_policy": policy,
            "attestation_policy": policy,
        },
        "broker": BROKER,
    }


def adapter_config(name: str, chain: FabricChain) -> dict[str, Any]:
    org = chain.setup.orgs[0]
    base = chain.config.data_dir
    client = base / "crypto" / org.domain / "users" / f"User1@{org.domain}" if base else None
    return {
        "type": "fabric",
        "id": name,
        "channel": chain.setup.channel_id,
        "peers": [
            {"msp_id": o.msp_id, "endpoint": e}
            for o, e in zip(chain.setup.orgs, chain.endpoints, strict=True)
        ],
        "network": str(chain.network_file) if chain.network_file else "",
        "msp_id": org.msp_id,
        "cert": str(client / "cert.pem") if client else "",
        "key": str(client / "key.pem") if client else "",
        "broker": BROKER,
    }


class FabricDevchains:
    """``relayhub.devchains: fabric``: a channel of two orgs (one peer each) and a solo
    orderer, chaincodes from ``chaincodes`` (default none until the broker set lands)."""

    family: ClassVar[str] = "fabric"

    def __init__(self, orgs: int = 2, chaincodes: Sequence[str] = ()) -> None:
        self.orgs = orgs
        self.chaincodes = tuple(chaincodes)

    @asynccontextmanager
    async def open_dev_chain(
        self,
        *,
        name: str,
        index: int,
        seed: str,
        hub_id: str,
        relay_validators: Sequence[str],
        relay_threshold: int,
        block_interval: float,
        data_dir: Path,
    ) -> AsyncIterator[FabricDevChain]:
        config = FabricConfig(
            chain_name=name,
            hub_id=hub_id,
            orgs=self.orgs,
            seed=f"{seed}-{name}",
            relay_validators=tuple(relay_validators),
            relay_threshold=relay_threshold,
            batch_timeout=block_interval,
            chaincodes=self.chaincodes,
            data_dir=data_dir,
        )
        opened = open_fabric_chain(config)
        chain = await trio.to_thread.run_sync(opened.__enter__)
        try:
            defined = set(chain.net.registry.names())
            yield FabricDevChain(
                name=name,
                rpc_url=f"grpc://{chain.endpoints[0]}",
                registration=registration(chain),
                adapter_config=adapter_config(name, chain),
                services={s: cc for cc, s in SERVICES.items() if cc in defined},
                user_keys=[],
                chain=chain,
            )
        finally:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(opened.__exit__, None, None, None)
