"""The orderer: the batch cutter, block signing and the channel's config block. Pure
(time is a parameter, in seconds of any monotonic clock).

The cutter follows Fabric's solo/raft ``blockcutter``: envelopes queue in arrival
order; a batch is cut when it holds ``max_message_count`` envelopes, or when
``batch_timeout`` has passed since the first envelope of the pending batch arrived.

Block 0 is the channel's config block: one ``CONFIG`` envelope whose data is a
``common.ConfigEnvelope{config = Config{sequence 0, channel_group}}`` with the channel
values ``HashingAlgorithm`` (SHA256) and ``BlockDataHashingStructure`` (width
2^32 - 1), an ``Application`` group with one group per org and an ``Orderer`` group
(``BatchSize``, ``BatchTimeout``, ``ConsensusType`` solo) with the orderer org — each
org group's ``MSP`` value a ``msp.MSPConfig{type 0 (FABRIC), FabricMSPConfig{name,
root_certs, fabric_node_ous}}``. Kept minimal: no policies, capabilities or anchor
peers (the dev chain does not evaluate channel policies).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fabric_protos.common import common_pb2, configtx_pb2, configuration_pb2
from fabric_protos.msp import msp_config_pb2
from fabric_protos.orderer import configuration_pb2 as orderer_config_pb2

from adapters.fabric.proposal import compute_tx_id
from appchains.fabric.block import header_bytes, new_block, sign_block
from appchains.fabric.ca import SigningIdentity

#: Fabric's defaults for the batch limits not configured here.
ABSOLUTE_MAX_BYTES = 10 * 1024 * 1024
PREFERRED_MAX_BYTES = 2 * 1024 * 1024


@dataclass
class BlockCutter:
    """Envelopes in, batches out."""

    max_message_count: int
    batch_timeout: float  #: seconds
    pending: list[bytes] = field(default_factory=list)
    #: When the first envelope of ``pending`` arrived (None: nothing pending).
    pending_since: float | None = None

    def __post_init__(self) -> None:
        if self.max_message_count < 1 or self.batch_timeout <= 0:
            raise ValueError("max_message_count must be >= 1 and batch_timeout > 0")

    def ordered(self, envelope: bytes, now: float) -> list[list[bytes]]:
        """Queue ``envelope``; the batches this cuts (one when the batch is full)."""
        if not self.pending:
            self.pending_since = now
        self.pending.append(envelope)
        if len(self.pending) >= self.max_message_count:
            return [self.cut()]
        return []

    def deadline(self) -> float | None:
        """When the pending batch is due, or None when nothing is pending."""
        return None if self.pending_since is None else self.pending_since + self.batch_timeout

    def cut_if_due(self, now: float) -> list[bytes] | None:
        due = self.deadline()
        if due is None or now < due:
            return None
        return self.cut()

    def cut(self) -> list[bytes]:
        batch, self.pending, self.pending_since = self.pending, [], None
        return batch


def block_nonce(header: bytes) -> bytes:
    """The orderer's signature-header nonce: derived from the header bytes (Fabric draws
    24 random bytes; a derived one keeps a seeded chain reproducible)."""
    return hashlib.sha256(b"relayhub fabric orderer nonce" + header).digest()[:24]


@dataclass(frozen=True)
class Orderer:
    """The ordering service's one node: it signs the blocks it cuts."""

    identity: SigningIdentity  #: role orderer

    def make_block(
        self, number: int, previous_hash: bytes, envelopes: Sequence[bytes]
    ) -> common_pb2.Block:
        block = new_block(number, previous_hash, envelopes)
        nonce = block_nonce(header_bytes(block.header))
        sign_block(block, self.identity.serialized, self.identity.sign, nonce, last_config=0)
        return block


@dataclass(frozen=True, slots=True)
class OrgMSP:
    msp_id: str
    root_certificate: x509.Certificate


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def msp_group(org: OrgMSP) -> configtx_pb2.ConfigGroup:
    root = _pem(org.root_certificate)

    def ou(name: str) -> msp_config_pb2.FabricOUIdentifier:
        return msp_config_pb2.FabricOUIdentifier(
            certificate=root, organizational_unit_identifier=name
        )

    fabric = msp_config_pb2.FabricMSPConfig(
        name=org.msp_id,
        root_certs=[root],
        fabric_node_ous=msp_config_pb2.FabricNodeOUs(
            enable=True,
            client_ou_identifier=ou("client"),
            peer_ou_identifier=ou("peer"),
            admin_ou_identifier=ou("admin"),
            orderer_ou_identifier=ou("orderer"),
        ),
    )
    group = configtx_pb2.ConfigGroup(mod_policy="Admins")
    group.values["MSP"].CopyFrom(
        configtx_pb2.ConfigValue(
            value=msp_config_pb2.MSPConfig(
                type=0, config=fabric.SerializeToString()
            ).SerializeToString(),
            mod_policy="Admins",
        )
    )
    return group


def channel_config(
    orgs: Sequence[OrgMSP],
    orderer_org: OrgMSP,
    max_message_count: int,
    batch_timeout: float,
) -> configtx_pb2.Config:
    """The channel's ``common.Config`` (sequence 0)."""
    channel = configtx_pb2.ConfigGroup(mod_policy="Admins")

    def value(group: configtx_pb2.ConfigGroup, key: str, msg: object) -> None:
        group.values[key].CopyFrom(
            configtx_pb2.ConfigValue(value=msg.SerializeToString(), mod_policy="Admins")  # type: ignore[attr-defined]
        )

    value(channel, "HashingAlgorithm", configuration_pb2.HashingAlgorithm(name="SHA256"))
    value(
        channel,
        "BlockDataHashingStructure",
        configuration_pb2.BlockDataHashingStructure(width=2**32 - 1),
    )
    application = channel.groups["Application"]
    application.mod_policy = "Admins"
    for org in orgs:
        application.groups[org.msp_id].CopyFrom(msp_group(org))
    orderer = channel.groups["Orderer"]
    orderer.mod_policy = "Admins"
    orderer.groups[orderer_org.msp_id].CopyFrom(msp_group(orderer_org))
    value(
        orderer,
        "BatchSize",
        orderer_config_pb2.BatchSize(
            max_message_count=max_message_count,
            absolute_max_bytes=ABSOLUTE_MAX_BYTES,
            preferred_max_bytes=PREFERRED_MAX_BYTES,
        ),
    )
    value(
        orderer, "BatchTimeout", orderer_config_pb2.BatchTimeout(timeout=_duration(batch_timeout))
    )
    value(orderer, "ConsensusType", orderer_config_pb2.ConsensusType(type="solo"))
    return configtx_pb2.Config(sequence=0, channel_group=channel)


def _duration(seconds: float) -> str:
    """A Go duration string, as ``BatchTimeout`` holds it ("2s", "250ms")."""
    ms = round(seconds * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def config_envelope(
    channel_id: str,
    config: configtx_pb2.Config,
    orderer: SigningIdentity,
    timestamp: int,
    nonce: bytes,
) -> common_pb2.Envelope:
    """The ``CONFIG`` envelope of the genesis block, signed by the orderer."""
    creator = orderer.serialized
    chdr = common_pb2.ChannelHeader(
        type=common_pb2.HeaderType.CONFIG,
        version=0,
        channel_id=channel_id,
        tx_id=compute_tx_id(nonce, creator),
        epoch=0,
    )
    chdr.timestamp.seconds = timestamp
    shdr = common_pb2.SignatureHeader(creator=creator, nonce=nonce)
    payload = common_pb2.Payload(
        header=common_pb2.Header(
            channel_header=chdr.SerializeToString(), signature_header=shdr.SerializeToString()
        ),
        data=configtx_pb2.ConfigEnvelope(config=config).SerializeToString(deterministic=True),
    )
    data = payload.SerializeToString(deterministic=True)
    return common_pb2.Envelope(payload=data, signature=orderer.sign(data))


def genesis_block(
    channel_id: str,
    orgs: Sequence[OrgMSP],
    orderer_org: OrgMSP,
    orderer: Orderer,
    *,
    max_message_count: int,
    batch_timeout: float,
    timestamp: int,
) -> common_pb2.Block:
    """Block 0: the config block, signed by the orderer."""
    config = channel_config(orgs, orderer_org, max_message_count, batch_timeout)
    nonce = hashlib.sha256(b"relayhub fabric genesis" + channel_id.encode()).digest()[:24]
    env = config_envelope(channel_id, config, orderer.identity, timestamp, nonce)
    return orderer.make_block(0, b"", [env.SerializeToString()])
