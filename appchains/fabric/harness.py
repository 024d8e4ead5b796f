"""The Fabric family's dev-chain hook for the harness topology (entry point
``relayhub.devchains``: ``fabric``), modelled on the EVM one.

It runs a two-org dev chain in this process (threads: the orderer, one gRPC server per
peer) on the topology's data dir and reports, in plain data (this module imports
neither the relay nor the adapters):

* ``rpc_url``: ``grpc://host:port`` of the first org's peer (gateway, endorser, deliver);
* ``registration``: family ``fabric``, the trust root of docs/fabric.md §4.1 (the
  orgs' and the orderer org's CA certificates, the orderer's certificate, the channel,
  the broker chaincode and its endorsement policy, also the attestation policy);
* ``adapter_config``: the gateway's ``[chain]`` table (``adapters.fabric.gateway``):
  channel, the peer to submit through, every org's peer as an attestor, and Org1's
  ``User1`` (certificate and key files under ``crypto/``);
* ``services``: ``asset`` and ``data_swap`` (the broker set, ``appchains/fabric/chaincode``);
* ``user_keys``: every client identity of the network, as JSON (``user_key``);
  ``users[0]`` (Org1's ``User1``) owns ``asset``.

The crypto material is in ``<data_dir>/crypto`` (``network.json`` names every file).
"""

from __future__ import annotations

import json
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
#: The chaincode provider of the broker set.
BROKER_SET = "appchains.fabric.chaincode.definitions:broker_set"


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
    """``chain.register``'s family, trust root (docs/fabric.md §4.1: the orgs' and the
    orderer org's CAs, the orderer, the channel, the broker and its policy) and broker."""
    setup, registry = chain.setup, chain.net.registry
    broker = registry.get(BROKER)
    policy = broker.policy if broker is not None else registry.default_policy
    return {
        "family": "fabric",
        "trust_root": {
            "channel": setup.channel_id,
            "chaincode": BROKER,
            "orgs": {
                **{o.msp_id: _pem(o.ca.certificate) for o in setup.orgs},
                setup.orderer_ca.msp_id: _pem(setup.orderer_ca.certificate),
            },
            "endorsement_policy": policy,
            "attestation_policy": policy,
            "orderers": [{"mspid": setup.orderer.msp_id, "cert": _pem(setup.orderer.certificate)}],
            "orderer_threshold": 1,
        },
        "broker": BROKER,
    }


def user_key(identity: Any) -> str:
    """A client identity as the Fabric service driver reads it: JSON of its MSP ID,
    certificate and PKCS#8 key (PEM)."""
    key = identity.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return json.dumps(
        {"msp_id": identity.msp_id, "cert": _pem(identity.certificate), "key": key.decode()}
    )


def adapter_config(name: str, chain: FabricChain) -> dict[str, Any]:
    """The gateway's ``[chain]`` table (``adapters.fabric.gateway.FabricChainSection``):
    submit through the first org's peer, attest with every org's peer, as Org1's
    ``User1`` (certificate and key files under ``crypto/``, or inline PEM without a
    data dir)."""
    org = chain.setup.orgs[0]
    base = chain.config.data_dir
    table: dict[str, Any] = {
        "type": "fabric",
        "id": name,
        "channel": chain.setup.channel_id,
        "gateway": chain.endpoints[0],
        "peers": [
            f"{o.msp_id}@{e}" for o, e in zip(chain.setup.orgs, chain.endpoints, strict=True)
        ],
        "msp_id": org.msp_id,
        "broker": BROKER,
    }
    if base is None:
        raise ValueError("a Fabric dev chain for a gateway needs a data dir (its crypto/)")
    client = base / "crypto" / org.domain / "users" / f"User1@{org.domain}"
    table["cert"] = str(client / "cert.pem")
    table["key"] = str(client / "key.pem")
    return table


class FabricDevchains:
    """``relayhub.devchains: fabric``: a channel of two orgs (one peer each) and a solo
    orderer, running the broker set (``broker``, ``asset``, ``dataswap``) unless
    ``chaincodes`` names other providers."""

    family: ClassVar[str] = "fabric"

    def __init__(self, orgs: int = 2, chaincodes: Sequence[str] = (BROKER_SET,)) -> None:
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
                user_keys=[user_key(u) for u in chain.setup.users],
                chain=chain,
            )
        finally:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(opened.__exit__, None, None, None)
