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

from appchains.fabric.config import FabricConfig
from appchains.fabric.node import TRUST_FILE, FabricChain, open_fabric_chain

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


def _read_pem(path: Path) -> str:
    return path.read_text(encoding="ascii")


def describe_material(name: str, chain_dir: Path) -> FabricDevChain:
    """What the topology needs of the Fabric dev chain whose data dir is ``chain_dir``,
    read from the crypto material it wrote (``crypto/network.json``,
    ``crypto/fabric-network.json`` and the client identities' files): so a chain run in
    this process and one run as its own process (``python -m appchains.fabric``) are
    described alike."""
    crypto = chain_dir / "crypto"
    network = json.loads((crypto / "network.json").read_text())
    trust = json.loads((crypto / TRUST_FILE).read_text())
    trust_root = {
        **{k: v for k, v in trust.items() if k not in ("orgs", "orderers")},
        "orgs": {msp: _read_pem(crypto / rel) for msp, rel in trust["orgs"].items()},
        "orderers": [
            {"mspid": o["mspid"], "cert": _read_pem(crypto / o["cert"])} for o in trust["orderers"]
        ],
    }
    orgs = network["orgs"]
    endpoints = [o["peer"]["endpoint"] for o in orgs]
    users = []
    for org in orgs:
        user_dirs = sorted(
            (crypto / org["domain"] / "users").glob("User*@*"),
            key=lambda d: int(d.name[4:].partition("@")[0]),
        )
        for d in user_dirs:
            users.append(
                json.dumps(
                    {
                        "msp_id": org["msp_id"],
                        "cert": _read_pem(d / "cert.pem"),
                        "key": (d / "key.pem").read_text(encoding="ascii"),
                    }
                )
            )
    first = orgs[0]
    defined = {c["name"] for c in network["chaincodes"]}
    return FabricDevChain(
        name=name,
        rpc_url=f"grpc://{endpoints[0]}",
        registration={"family": "fabric", "trust_root": trust_root, "broker": BROKER},
        adapter_config={
            "type": "fabric",
            "id": name,
            "channel": network["channel"],
            "gateway": endpoints[0],
            "peers": [f"{o['msp_id']}@{e}" for o, e in zip(orgs, endpoints, strict=True)],
            "msp_id": first["msp_id"],
            "cert": str(chain_dir / first["client"]["cert"]),
            "key": str(chain_dir / first["client"]["key"]),
            "broker": BROKER,
        },
        services={s: cc for cc, s in SERVICES.items() if cc in defined},
        user_keys=users,
    )


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
            if chain.config.data_dir is None:
                raise ValueError("a Fabric dev chain for the topology needs a data dir")
            dev = describe_material(name, chain.config.data_dir)
            dev.chain = chain
            yield dev
        finally:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(opened.__exit__, None, None, None)
