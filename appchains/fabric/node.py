"""A running Fabric dev chain: ledger, network, gRPC servers and the crypto material
written for clients (I/O shell, threads).

:func:`open_fabric_chain` is what the process, the harness hook and tests use::

    with open_fabric_chain(FabricConfig(seed="demo", data_dir=path)) as chain:
        chain.endpoints   # ["127.0.0.1:PORT", ...], one per org's peer
        chain.net         # the FabricNetwork (peers, orderer, ledger)

With a data dir it writes ``crypto/`` there (see :func:`write_material`): each org's
CA certificate, a client identity per org (certificate and PKCS#8 key), the orderer
org's CA, and ``crypto/network.json`` naming them with the peer endpoints, the
channel and the chaincodes with their policies — what a gateway adapter or a Node
``@hyperledger/fabric-gateway`` client needs (plaintext gRPC, no TLS).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from appchains.fabric.ca import SigningIdentity
from appchains.fabric.config import FabricConfig
from appchains.fabric.network import FabricNetwork
from appchains.fabric.orgs import NetworkSetup, make_setup
from appchains.fabric.registry import ChaincodeContext, ChaincodeRegistry, load_providers
from appchains.fabric.server import PeerServers, serve_peers
from appchains.fabric.store import LedgerStore, StoreError

log = logging.getLogger("relayhub.fabric")

MATERIAL_DIR = "crypto"
NETWORK_FILE = "network.json"


@dataclass
class FabricChain:
    config: FabricConfig
    setup: NetworkSetup
    net: FabricNetwork
    servers: PeerServers
    #: ``crypto/network.json`` when a data dir is set
    network_file: Path | None

    @property
    def endpoints(self) -> list[str]:
        return self.servers.endpoints


def _seed(config: FabricConfig, store: LedgerStore) -> str:
    stored = store.get_meta("seed")
    if stored is not None:
        if config.seed is not None and config.seed != stored.decode():
            raise StoreError(
                "the data dir was created with another seed; use it or a fresh data dir"
            )
        return stored.decode()
    seed = config.seed if config.seed is not None else secrets.token_hex(16)
    store.set_meta("seed", seed.encode())
    return seed


def _pem(identity: SigningIdentity) -> tuple[bytes, bytes]:
    cert = identity.certificate.public_bytes(serialization.Encoding.PEM)
    key = identity.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert, key


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``path`` whole or not at all (a reader never sees half a file): a temporary
    file in the same directory, renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    tmp.chmod(mode)
    os.replace(tmp, path)


def write_material(
    chain_dir: Path,
    config: FabricConfig,
    setup: NetworkSetup,
    endpoints: list[str],
    registry: ChaincodeRegistry,
) -> Path:
    """Write ``crypto/`` under ``chain_dir``; return the path of ``network.json``."""
    root = chain_dir / MATERIAL_DIR
    orgs: list[dict[str, Any]] = []
    for org, endpoint in zip(setup.orgs, endpoints, strict=True):
        base = root / org.domain
        ca = base / "ca.pem"
        _write(ca, org.ca.certificate.public_bytes(serialization.Encoding.PEM))
        for i, identity in enumerate(org.users, start=1):
            cert, key = _pem(identity)
            user_dir = base / "users" / f"User{i}@{org.domain}"
            _write(user_dir / "cert.pem", cert)
            _write(user_dir / "key.pem", key, 0o600)
        user = base / "users" / f"User1@{org.domain}"
        orgs.append(
            {
                "msp_id": org.msp_id,
                "domain": org.domain,
                "ca": str(ca.relative_to(chain_dir)),
                "peer": {"name": org.peer_name, "endpoint": endpoint},
                "client": {
                    "cert": str((user / "cert.pem").relative_to(chain_dir)),
                    "key": str((user / "key.pem").relative_to(chain_dir)),
                },
            }
        )
    orderer_ca = root / "example.com" / "ca.pem"
    _write(orderer_ca, setup.orderer_ca.certificate.public_bytes(serialization.Encoding.PEM))
    orderer_cert = root / "example.com" / "orderers" / "orderer.example.com" / "cert.pem"
    _write(orderer_cert, setup.orderer.certificate.public_bytes(serialization.Encoding.PEM))
    write_trust_material(root, setup, registry, orderer_ca, orderer_cert)
    chaincodes = []
    for name in registry.names():
        defined = registry.get(name)
        assert defined is not None
        chaincodes.append({"name": name, "version": defined.version, "policy": defined.policy})
    info = {
        "channel": setup.channel_id,
        "chain_id": config.chain_name,
        "hub_id": config.hub_id,
        "tls": False,
        "orgs": orgs,
        "orderer": {
            "msp_id": setup.orderer_ca.msp_id,
            "ca": str(orderer_ca.relative_to(chain_dir)),
        },
        "chaincodes": chaincodes,
        "paths": "relative to the directory holding crypto/",
    }
    path = root / NETWORK_FILE
    _write(path, (json.dumps(info, indent=2) + "\n").encode())
    return path


#: The trust-root material (docs/fabric.md §4: ``relayhub appchain trust-root --family
#: fabric --rpc <data dir>/crypto``), next to network.json.
TRUST_FILE = "fabric-network.json"


def write_trust_material(
    root: Path,
    setup: NetworkSetup,
    registry: ChaincodeRegistry,
    orderer_ca: Path,
    orderer_cert: Path,
) -> Path:
    """``crypto/fabric-network.json``: what a relay registers this channel with — the
    orgs' and the orderer org's CA files, the orderer's certificate, the channel, the
    broker chaincode and its endorsement policy (also the attestation policy)."""
    broker = registry.get("broker")
    policy = broker.policy if broker is not None else registry.default_policy
    info = {
        "channel": setup.channel_id,
        "chaincode": "broker",
        "endorsement_policy": policy,
        "attestation_policy": policy,
        "orgs": {
            **{o.msp_id: f"{o.domain}/ca.pem" for o in setup.orgs},
            setup.orderer_ca.msp_id: str(orderer_ca.relative_to(root)),
        },
        "orderers": [{"mspid": setup.orderer.msp_id, "cert": str(orderer_cert.relative_to(root))}],
        "orderer_threshold": 1,
    }
    path = root / TRUST_FILE
    _write(path, (json.dumps(info, indent=2) + "\n").encode())
    return path


@contextmanager
def open_fabric_chain(config: FabricConfig) -> Iterator[FabricChain]:
    """Run a dev chain (orderer thread + one gRPC server per peer) for the block."""
    config.check()
    store = LedgerStore(config.data_dir)
    try:
        setup = make_setup(_seed(config, store), config.orgs, config.channel)
        context = ChaincodeContext(
            channel_id=setup.channel_id,
            hub_id=config.hub_id,
            chain_id=config.chain_name,
            msp_ids=setup.msp_ids,
            relay_validators=config.relay_validators,
            relay_threshold=config.relay_threshold,
            users=tuple(u.serialized for u in setup.users),
        )
        registry = ChaincodeRegistry(load_providers(config.chaincodes, context), setup.msp_ids)
        net = FabricNetwork.open(
            setup,
            registry,
            store,
            max_message_count=config.max_message_count,
            batch_timeout=config.batch_timeout,
            genesis_timestamp=config.genesis_timestamp or None,
        )
        net.start()
        try:
            servers = serve_peers(net, config.host, list(config.ports) or [0] * config.orgs)
            try:
                network_file = None
                if config.data_dir is not None:
                    network_file = write_material(
                        config.data_dir, config, setup, servers.endpoints, registry
                    )
                log.info(
                    "fabric dev chain %s: channel %s, %d orgs, chaincodes %s, height %d",
                    config.chain_name,
                    setup.channel_id,
                    len(setup.orgs),
                    registry.names(),
                    store.height(),
                )
                yield FabricChain(config, setup, net, servers, network_file)
            finally:
                servers.stop(1.0)
        finally:
            net.stop()
    finally:
        store.close()
