"""National-crypto (国密) primitives for the FISCO family: SM3 hashes, SM2 signatures.

Pure: no I/O, no clock. The work is done by ``gmssl-pyx`` (a C extension around
GmSSL 3.2); this module only fixes the byte formats FISCO uses and refuses
malformed input before the library sees it. The FISCO-like dev chain
(``appchains/``, which may not import this package) calls the same library
directly, so the library's API is the shared piece and this module stays small.

What a FISCO BCOS 2.x node signs in 国密 mode
--------------------------------------------
Read in the FISCO-BCOS source (``FISCO-BCOS/FISCO-BCOS``, 2.x branch):

* ``libconsensus/pbft/Common.h``: every PBFT message carries
  ``sig = signHash(block_hash, keyPair)``, ``block_hash`` being the block header
  hash; ``PBFTEngine::checkSign`` checks it with ``dev::verify(pub, sig, block_hash)``.
  In the 国密 build every hash (header hash included) is SM3.
* ``libdevcrypto/SM2Signature.cpp``: ``sm2Sign(keyPair, h256 hash)`` hands the
  **32 hash bytes** to ``SM2::sign`` as the data to sign; the signature's bytes
  (``asBytes``) are ``r‖s‖v`` = 32 + 32 + 64, ``v`` the signer's public key
  (x‖y, no ``04``), because SM2 has no public-key recovery: ``sm2Recover`` just
  verifies against the carried key and returns it.
* ``libdevcrypto/sm2/sm2.cpp``: ``SM2::sign`` / ``SM2::verify`` compute
  ``Z = ECDSA_sm2_get_Z(key, NULL id)`` (TASSL's default ID), then
  ``e = SM3(Z ‖ data)`` and sign / verify ``e``; the HSM (``FISCO_SDF``) branch of
  the same file passes ``SM2_DEFAULT_USERID`` = ``"1234567812345678"`` explicitly
  over the same 32 bytes, and both builds interoperate.

So the header hash is the SM2 **message** (not the digest ``e``): the functions
below take the message and compute ``Z`` from the public key and user ID inside,
exactly as GB/T 32918.2-2016 (GM/T 0003.2-2012) §6.1 prescribes.

Signatures here are raw ``r‖s`` (64 bytes, big-endian); FISCO's wire form is
``r‖s‖pub`` (128 bytes, :func:`parse_fisco_sm2_signature`). Keys are 32-byte
scalars and 64-byte ``x‖y`` points on the SM2 recommended curve (GB/T 32918.5).

Two properties of the library a caller should know: it holds the GIL while it
verifies (threads do not add throughput; processes do), and GmSSL writes a
two-line error trace (``…/sm2_sign.c:…:sm2_fast_verify():``) to the process's
stderr for every signature that fails to verify. That cannot be switched off
from Python, so a relay fed many bad seals should send stderr to a bounded log.
"""

from __future__ import annotations

from typing import NamedTuple

import gmssl_pyx

#: The SM2 user ID FISCO (and GmSSL, Tongsuo, BouncyCastle) use when none is given.
DEFAULT_ID = b"1234567812345678"

# SM2 recommended curve (GB/T 32918.5-2017 / GM/T 0003.5-2012 §3).
SM2_P = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_FFFFFFFF_00000000_FFFFFFFF_FFFFFFFF
SM2_A = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_FFFFFFFF_00000000_FFFFFFFF_FFFFFFFC
SM2_B = 0x28E9FA9E_9D9F5E34_4D5A9E4B_CF6509A7_F39789F5_15AB8F92_DDBCBD41_4D940E93
SM2_N = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_7203DF6B_21C6052B_53BBF409_39D54123
SM2_GX = 0x32C4AE2C_1F198119_5F990446_6A39C994_8FE30BBF_F2660BE1_715A4589_334C74C7
SM2_GY = 0xBC3736A2_F4F6779C_59BDCEE3_6B692153_D0A9877C_C62A4740_02DF32E5_2139F0A0

#: ENTL is a 16-bit count of ID *bits*, so an ID has at most 8191 bytes.
MAX_ID_LENGTH = 0xFFFF // 8

_CURVE_BYTES = b"".join(v.to_bytes(32, "big") for v in (SM2_A, SM2_B, SM2_GX, SM2_GY))


class FiscoSm2Signature(NamedTuple):
    """FISCO's 128-byte SM2 signature, split: ``r`` and ``s`` (32 bytes each), ``pub`` (64)."""

    r: bytes
    s: bytes
    pub: bytes

    @property
    def rs(self) -> bytes:
        """The 64-byte ``r‖s`` that :func:`sm2_verify` takes."""
        return self.r + self.s


def sm3(data: bytes) -> bytes:
    """SM3 (GB/T 32905-2016) of ``data``: 32 bytes."""
    return bytes(gmssl_pyx.sm3_hash(bytes(data)))


def _check_user_id(user_id: bytes) -> None:
    if not isinstance(user_id, bytes | bytearray):
        raise TypeError("SM2 user ID must be bytes (FISCO's is b'1234567812345678')")
    if not 1 <= len(user_id) <= MAX_ID_LENGTH:
        raise ValueError(f"SM2 user ID must be 1..{MAX_ID_LENGTH} bytes, got {len(user_id)}")


def sm2_z(pub: bytes, user_id: bytes = DEFAULT_ID) -> bytes:
    """``Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA)`` (GB/T 32918.2 §5.5) for a 64-byte key.

    Exposed for tests and tooling: :func:`sm2_verify` needs no precomputed ``Z``.
    """
    _check_user_id(user_id)
    if len(pub) != 64:
        raise ValueError(f"SM2 public key must be 64 bytes (x‖y), got {len(pub)}")
    entl = (len(user_id) * 8).to_bytes(2, "big")
    return sm3(entl + bytes(user_id) + _CURVE_BYTES + bytes(pub))


def _der_int(value: bytes) -> bytes:
    body = value.lstrip(b"\x00") or b"\x00"
    if body[0] & 0x80:
        body = b"\x00" + body
    return b"\x02" + bytes([len(body)]) + body


def encode_der(rs: bytes) -> bytes:
    """r ‖ s (32 bytes each) as the DER SEQUENCE of two INTEGERs the C library takes."""
    body = _der_int(rs[:32]) + _der_int(rs[32:])
    return b"\x30" + bytes([len(body)]) + body


def _decode_der(der: bytes) -> bytes:
    """GmSSL's DER ``SEQUENCE { INTEGER r, INTEGER s }`` -> 64-byte ``r‖s`` (short form only)."""
    if len(der) < 8 or der[0] != 0x30 or der[1] != len(der) - 2:
        raise ValueError("not a DER SM2 signature")
    out = b""
    pos = 2
    for _ in range(2):
        if der[pos] != 0x02:
            raise ValueError("not a DER SM2 signature")
        size = der[pos + 1]
        value = der[pos + 2 : pos + 2 + size]
        if len(value) != size or size > 33:
            raise ValueError("not a DER SM2 signature")
        out += int.from_bytes(value, "big").to_bytes(32, "big")
        pos += 2 + size
    if pos != len(der):
        raise ValueError("not a DER SM2 signature")
    return out


def is_sm2_point(pub: bytes) -> bool:
    """Is ``pub`` a 64-byte ``x‖y`` point on the SM2 curve (a valid 国密 node ID)?"""
    return isinstance(pub, bytes | bytearray) and len(pub) == 64 and _is_on_curve(bytes(pub))


def _is_on_curve(pub: bytes) -> bool:
    x = int.from_bytes(pub[:32], "big")
    y = int.from_bytes(pub[32:], "big")
    return x < SM2_P and y < SM2_P and (y * y - (x * x * x + SM2_A * x + SM2_B)) % SM2_P == 0


def sm2_verify(pub: bytes, message: bytes, signature: bytes, user_id: bytes = DEFAULT_ID) -> bool:
    """Is ``signature`` (64-byte ``r‖s``) by ``pub`` (64-byte ``x‖y``) over ``message``?

    ``message`` is the signed data itself — for a FISCO seal, the 32-byte SM3 header
    hash — and ``e = SM3(Z ‖ message)`` is computed inside with ``Z`` from ``pub`` and
    ``user_id``. Any malformed signature or key (wrong length, ``r`` or ``s`` outside
    ``[1, n-1]``, a point off the curve) is ``False``, never an exception: they come
    from the chain. A malformed ``user_id`` is the caller's configuration, so it raises.
    """
    _check_user_id(user_id)
    if len(signature) != 64 or len(pub) != 64:
        return False
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not (0 < r < SM2_N and 0 < s < SM2_N) or not _is_on_curve(pub):
        return False
    try:
        return bool(
            gmssl_pyx.sm2_verify(bytes(pub), bytes(message), encode_der(signature), bytes(user_id))
        )
    except gmssl_pyx.GmsslInnerError:  # InvalidValueError is a subclass
        return False


def sm2_sign(private_key: bytes, pub: bytes, message: bytes, user_id: bytes = DEFAULT_ID) -> bytes:
    """Sign ``message`` (``Z`` computed inside, as :func:`sm2_verify`); 64-byte ``r‖s``.

    For tests and dev chains. ``pub`` must be ``private_key``'s: GmSSL takes both and
    does not check the pair, so the signature is verified before it is returned and a
    mismatched pair raises ``ValueError`` instead of yielding a signature nobody accepts.
    Each call draws a fresh nonce, so signatures differ from call to call.
    """
    _check_user_id(user_id)
    if len(private_key) != 32 or len(pub) != 64:
        raise ValueError("SM2 keys are a 32-byte scalar and a 64-byte x‖y point")
    der = gmssl_pyx.sm2_sign(bytes(private_key), bytes(pub), bytes(message), bytes(user_id))
    signature = _decode_der(bytes(der))
    if not sm2_verify(pub, message, signature, user_id):
        raise ValueError("SM2 public key does not belong to the private key")
    return signature


def _jacobian_double(x: int, y: int, z: int) -> tuple[int, int, int]:
    p = SM2_P
    if not y:
        return 0, 0, 0
    yy = y * y % p
    s = 4 * x * yy % p
    zz = z * z % p
    m = (3 * x * x + SM2_A * zz * zz) % p
    nx = (m * m - 2 * s) % p
    return nx, (m * (s - nx) - 8 * yy * yy) % p, 2 * y * z % p


def _jacobian_add(a: tuple[int, int, int], b: tuple[int, int, int]) -> tuple[int, int, int]:
    p = SM2_P
    x1, y1, z1 = a
    x2, y2, z2 = b
    if not z1:
        return b
    if not z2:
        return a
    z1z1, z2z2 = z1 * z1 % p, z2 * z2 % p
    u1, u2 = x1 * z2z2 % p, x2 * z1z1 % p
    s1, s2 = y1 * z2 * z2z2 % p, y2 * z1 * z1z1 % p
    if u1 == u2:
        return _jacobian_double(x1, y1, z1) if s1 == s2 else (0, 0, 0)
    h, r = (u2 - u1) % p, (s2 - s1) % p
    hh = h * h % p
    hhh = h * hh % p
    v = u1 * hh % p
    nx = (r * r - hhh - 2 * v) % p
    return nx, (r * (v - nx) - s1 * hhh) % p, h * z1 * z2 % p


def sm2_public_key(private_key: bytes) -> bytes:
    """The 64-byte ``x‖y`` public key of a 32-byte SM2 private key ``d`` (``d·G``).

    Pure Python (a few ms): for dev chains and gateways that derive a key once. GmSSL's
    binding only generates random pairs; keys derived from a seed need this.
    """
    d = int.from_bytes(private_key, "big")
    if len(private_key) != 32 or not 0 < d < SM2_N - 1:
        raise ValueError("an SM2 private key is a 32-byte scalar in [1, n-2]")
    acc: tuple[int, int, int] = (0, 0, 0)
    point = (SM2_GX, SM2_GY, 1)
    while d:
        if d & 1:
            acc = _jacobian_add(acc, point)
        point = _jacobian_double(*point)
        d >>= 1
    x, y, z = acc
    zi = pow(z, -1, SM2_P)
    zi2 = zi * zi % SM2_P
    return (x * zi2 % SM2_P).to_bytes(32, "big") + (y * zi2 * zi % SM2_P).to_bytes(32, "big")


def sm2_keypair() -> tuple[bytes, bytes]:
    """A fresh random key pair from GmSSL's RNG: ``(private_key 32 bytes, pub 64 bytes)``."""
    pub, private_key = gmssl_pyx.sm2_key_generate()
    return bytes(private_key), bytes(pub)


def parse_fisco_sm2_signature(signature: bytes) -> FiscoSm2Signature:
    """Split FISCO's 128-byte ``r‖s‖pub`` SM2 signature; ``ValueError`` unless 128 bytes.

    Only the layout is checked; :func:`verify_fisco_sm2_signature` checks the rest.
    """
    if len(signature) != 128:
        raise ValueError(f"a FISCO SM2 signature is 128 bytes (r‖s‖pub), got {len(signature)}")
    sig = bytes(signature)
    return FiscoSm2Signature(r=sig[:32], s=sig[32:64], pub=sig[64:])


def verify_fisco_sm2_signature(
    signature: bytes, message: bytes, user_id: bytes = DEFAULT_ID
) -> bytes | None:
    """The signer's 64-byte key if the 128-byte FISCO signature verifies over ``message``.

    FISCO's ``sm2Recover``: the key rides in the signature, so "recovering" is verifying
    against it; the caller must still check the key is a registered sealer. ``None``
    for anything malformed or invalid.
    """
    if len(signature) != 128:
        return None
    parts = parse_fisco_sm2_signature(signature)
    return parts.pub if sm2_verify(parts.pub, message, parts.rs, user_id) else None


def fisco_sm2_sign(
    private_key: bytes, pub: bytes, message: bytes, user_id: bytes = DEFAULT_ID
) -> bytes:
    """FISCO's 128-byte ``r‖s‖pub`` signature over ``message`` (tests and dev chains)."""
    return sm2_sign(private_key, pub, message, user_id) + bytes(pub)
