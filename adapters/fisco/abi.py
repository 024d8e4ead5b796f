"""Function selectors and revert reasons on a FISCO chain, by crypto mode (pure).

A FISCO toolchain derives a selector with the chain's hash: FISCO's Java SDK
(``FISCO-BCOS/java-sdk``, ``org.fisco.bcos.sdk.abi.FunctionEncoder.buildMethodId``)
takes the first 4 bytes of ``cryptoSuite.hash(signature)``, keccak-256 on a standard
chain and SM3 on a 国密 one; its Python SDK (``FISCO-BCOS/python-sdk``,
``eth_utils/crypto.py``) routes the same ``keccak`` through SM3 when the crypto type
is GM; and the 国密 Solidity compiler builds contracts whose dispatch expects those
selectors. The same holds for Solidity's own errors: a ``require`` compiled for a 国密
chain reverts with ``SM3("Error(string)")[:4] = 0xc703cb12`` instead of
``0x08c379a0`` (the Java SDK's ``RevertMessageParser`` knows both, "SM Method" and
"Not SM Method").
"""

from __future__ import annotations

from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode

from adapters.fisco.hashing import HashFn

ERROR_SIGNATURE = "Error(string)"


def compute_selector(signature: str, hash_fn: HashFn) -> bytes:
    """The first 4 bytes of the chain's hash of a canonical signature ``f(type,...)``."""
    return hash_fn(signature.encode())[:4]


def encode_call(signature: str, values: list[Any], hash_fn: HashFn) -> bytes:
    """ABI calldata for ``signature`` such as ``"transfer(string,address,uint256,uint64)"``,
    with the chain's selector."""
    types = signature[signature.index("(") + 1 : -1]
    args = abi_encode([t for t in types.split(",") if t], values)
    return compute_selector(signature, hash_fn) + args


def decode_revert_reason(data: bytes, hash_fn: HashFn) -> str:
    """The message of Solidity ``Error(string)`` revert data on the chain, else ''."""
    if data[:4] != compute_selector(ERROR_SIGNATURE, hash_fn):
        return ""
    try:
        return str(abi_decode(["string"], data[4:])[0])
    except Exception:
        return ""


__all__ = ["ERROR_SIGNATURE", "compute_selector", "decode_revert_reason", "encode_call"]
