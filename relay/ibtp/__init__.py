"""IBTP: the inter-blockchain transfer protocol message, its IDs, codec and digests."""

from relay.ibtp.codec import decode_ibtp, encode_ibtp, encode_ibtp_unproven
from relay.ibtp.digest import (
    compute_ibtp_hash,
    compute_notary_digest,
    compute_payload_hash,
    compute_signed_digest,
)
from relay.ibtp.ids import ServiceID, compute_ibtp_id, parse_ibtp_id, parse_service_id
from relay.ibtp.message import FINAL_STATUSES, IBTP, IBTPType, Payload, TxStatus

__all__ = [
    "FINAL_STATUSES",
    "IBTP",
    "IBTPType",
    "Payload",
    "ServiceID",
    "TxStatus",
    "compute_ibtp_hash",
    "compute_ibtp_id",
    "compute_notary_digest",
    "compute_payload_hash",
    "compute_signed_digest",
    "decode_ibtp",
    "encode_ibtp",
    "encode_ibtp_unproven",
    "parse_ibtp_id",
    "parse_service_id",
]
