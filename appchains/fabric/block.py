"""Fabric blocks: header bytes and hash, data hash, the orderer's signature, the
transactions filter. Pure (no I/O, no clock).

* The header hash is SHA-256 of the ASN.1 DER ``SEQUENCE { INTEGER number,
  OCTET STRING previous_hash, OCTET STRING data_hash }`` (Fabric's
  ``protoutil.BlockHeaderBytes``, Go's ``encoding/asn1`` of a struct with a
  ``*big.Int`` and two byte slices).
* The data hash is SHA-256 of the envelopes concatenated (``protoutil.BlockDataHash``).
* ``metadata[SIGNATURES]`` = ``Metadata{value = OrdererBlockMetadata{last_config},
  signatures = [MetadataSignature{signature_header, signature}]}``, the signature over
  ``value ‖ signature_header ‖ header bytes`` (``protoutil.BlockSignatureVerifier``).
* ``metadata[TRANSACTIONS_FILTER]`` holds one ``peer.TxValidationCode`` byte per
  transaction, written by the committing peer (not covered by the orderer's signature).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography import x509
from fabric_protos.common import common_pb2
from google.protobuf.message import DecodeError

import adapters.fabric.signature as signature
from adapters.fabric.blocks import (
    block_data_hash,
    block_header_bytes,
    block_header_hash,
    orderer_signed_bytes,
)
from adapters.fabric.errors import FabricError
from adapters.fabric.identity import Identity, MSPRole, deserialize_identity
from adapters.fabric.signature import Signer

Block = common_pb2.Block
BlockMetadataIndex = common_pb2.BlockMetadataIndex
SIGNATURES = common_pb2.BlockMetadataIndex.SIGNATURES
LAST_CONFIG = common_pb2.BlockMetadataIndex.LAST_CONFIG
TRANSACTIONS_FILTER = common_pb2.BlockMetadataIndex.TRANSACTIONS_FILTER
#: ``protoutil.NewBlock`` allocates one metadata entry per ``BlockMetadataIndex`` name.
METADATA_SLOTS = len(common_pb2.BlockMetadataIndex.keys())


class BlockError(FabricError):
    """A block whose hashes, metadata or orderer signatures are not as they must be."""


# --- hashes (Fabric's, shared with the verifier: adapters/fabric/blocks.py) -------------


def header_bytes(header: common_pb2.BlockHeader) -> bytes:
    """protoutil ``BlockHeaderBytes`` of ``header``."""
    return block_header_bytes(header.number, header.previous_hash, header.data_hash)


def header_hash(header: common_pb2.BlockHeader) -> bytes:
    """protoutil ``BlockHeaderHash``: the hash the next block names as previous."""
    return block_header_hash(header.number, header.previous_hash, header.data_hash)


# --- building and signing ---------------------------------------------------------------


def new_block(number: int, previous_hash: bytes, envelopes: Sequence[bytes]) -> common_pb2.Block:
    """An unsigned block of ``envelopes`` (serialized ``common.Envelope``s), with empty
    metadata slots, as ``protoutil.NewBlock`` plus the data hash."""
    block = common_pb2.Block()
    block.header.number = number
    block.header.previous_hash = previous_hash
    block.data.data.extend(envelopes)
    block.header.data_hash = block_data_hash(envelopes)
    block.metadata.metadata.extend([b""] * METADATA_SLOTS)
    return block


def sign_block(
    block: common_pb2.Block,
    orderer_identity: bytes,
    sign: Signer,
    nonce: bytes,
    last_config: int = 0,
) -> None:
    """Write ``metadata[SIGNATURES]`` (and the deprecated ``LAST_CONFIG`` slot, as
    Fabric 2.x still does) with one orderer's signature."""
    value = common_pb2.OrdererBlockMetadata(
        last_config=common_pb2.LastConfig(index=last_config)
    ).SerializeToString()
    shdr = common_pb2.SignatureHeader(creator=orderer_identity, nonce=nonce).SerializeToString()
    sig = sign(orderer_signed_bytes(value, shdr, header_bytes(block.header)))
    metadata = common_pb2.Metadata(
        value=value,
        signatures=[common_pb2.MetadataSignature(signature_header=shdr, signature=sig)],
    )
    block.metadata.metadata[SIGNATURES] = metadata.SerializeToString()
    block.metadata.metadata[LAST_CONFIG] = common_pb2.Metadata(
        value=common_pb2.LastConfig(index=last_config).SerializeToString()
    ).SerializeToString()


def set_transactions_filter(block: common_pb2.Block, codes: Sequence[int]) -> None:
    if len(codes) != len(block.data.data):
        raise BlockError(f"{len(codes)} validation codes for {len(block.data.data)} transactions")
    block.metadata.metadata[TRANSACTIONS_FILTER] = bytes(codes)


def transactions_filter(block: common_pb2.Block) -> bytes:
    if len(block.metadata.metadata) <= TRANSACTIONS_FILTER:
        return b""
    return bytes(block.metadata.metadata[TRANSACTIONS_FILTER])


# --- checking ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlockSignature:
    identity: Identity
    last_config: int


def verify_block(
    block: common_pb2.Block,
    previous_hash: bytes | None,
    orderer_cas: Mapping[str, x509.Certificate],
    now: int,
) -> list[BlockSignature]:
    """Check the data hash, the link to ``previous_hash`` (when given) and every
    orderer signature in ``metadata[SIGNATURES]``; return the signers (orderer role)."""
    if block.header.data_hash != block_data_hash(block.data.data):
        raise BlockError(f"block {block.header.number}: data_hash is not the data's hash")
    if previous_hash is not None and block.header.previous_hash != previous_hash:
        raise BlockError(f"block {block.header.number}: previous_hash does not link")
    if len(block.metadata.metadata) <= SIGNATURES:
        raise BlockError(f"block {block.header.number}: no SIGNATURES metadata")
    try:
        metadata = common_pb2.Metadata.FromString(block.metadata.metadata[SIGNATURES])
        last_config = common_pb2.OrdererBlockMetadata.FromString(metadata.value).last_config
    except DecodeError as exc:
        raise BlockError(f"block {block.header.number}: bad SIGNATURES metadata: {exc}") from None
    if not metadata.signatures:
        raise BlockError(f"block {block.header.number}: not signed")
    header = header_bytes(block.header)
    signers = []
    for ms in metadata.signatures:
        try:
            shdr = common_pb2.SignatureHeader.FromString(ms.signature_header)
            identity = deserialize_identity(shdr.creator, orderer_cas, now)
            signature.verify(
                identity.public_key,
                orderer_signed_bytes(metadata.value, ms.signature_header, header),
                ms.signature,
            )
        except (DecodeError, FabricError) as exc:
            raise BlockError(f"block {block.header.number}: orderer signature: {exc}") from None
        if identity.role != MSPRole.ORDERER:
            raise BlockError(f"block {block.header.number}: signed by a non-orderer identity")
        signers.append(BlockSignature(identity, last_config.index))
    return signers
