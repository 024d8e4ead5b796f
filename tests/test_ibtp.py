"""IBTP codec, IDs and digests: on-disk vectors, property tests, and an independent
ABI encoder that cross-checks the digest a Solidity broker recomputes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay.crypto import keccak
from relay.errors import Code, EncodingError
from relay.ibtp import (
    IBTP,
    IBTPType,
    Payload,
    TxStatus,
    compute_ibtp_hash,
    compute_ibtp_id,
    compute_notary_digest,
    compute_payload_hash,
    compute_signed_digest,
    decode_ibtp,
    encode_ibtp,
    encode_ibtp_unproven,
    parse_ibtp_id,
    parse_service_id,
)
from relay.ibtp.codec import (
    MAX_ARG_BYTES,
    MAX_ARGS,
    MAX_EXTRA_BYTES,
    MAX_FUNC_CHARS,
    MAX_IBTP_BYTES,
    MAX_PROOF_BYTES,
)
from relay.ibtp.digest import RELAY_PROOF_DOMAIN

VECTORS = Path(__file__).parent / "vectors"
VALID_FILES = sorted((VECTORS / "ibtp").glob("*.json"))
INVALID_FILES = sorted((VECTORS / "ibtp" / "invalid").glob("*.json"))
UINT64_MAX = 2**64 - 1

#: Known deviations of relay/ibtp from docs/protocol.md. Each vector keeps the code the
#: spec requires; the test is a strict xfail, so it turns red once the bug is fixed and
#: the entry must be removed.
KNOWN_BUGS: dict[str, str] = {}


def fuzz(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


def unhex(text: str) -> bytes:
    assert text.startswith("0x"), text
    return bytes.fromhex(text[2:])


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def ibtp_from_json(d: dict[str, Any]) -> IBTP:
    p = d["payload"]
    return IBTP(
        src=d["from"],
        dst=d["to"],
        index=int(d["index"]),
        type=IBTPType(d["type"]),
        timeout=int(d["timeout"]),
        payload=Payload(
            func=p["func"],
            args=tuple(unhex(a) for a in p["args"]),
            encrypted=p["encrypted"],
        ),
        proof=unhex(d["proof"]),
        extra=unhex(d["extra"]),
        version=d["version"],
    )


def ibtp_to_json(ibtp: IBTP) -> dict[str, Any]:
    return {
        "version": ibtp.version,
        "from": ibtp.src,
        "to": ibtp.dst,
        "index": str(ibtp.index),
        "type": int(ibtp.type),
        "timeout": str(ibtp.timeout),
        "payload": {
            "func": ibtp.payload.func,
            "args": ["0x" + a.hex() for a in ibtp.payload.args],
            "encrypted": ibtp.payload.encrypted,
        },
        "proof": "0x" + ibtp.proof.hex(),
        "extra": "0x" + ibtp.extra.hex(),
    }


# ---------------------------------------------------------------------------
# An independent Solidity abi.encode for the two digests: 32-byte head words,
# dynamic values as offsets into the tail (relative to the start of their tuple).


def _word(n: int) -> bytes:
    return n.to_bytes(32, "big")


def _abi_bytes(data: bytes) -> bytes:
    """``bytes`` / ``string`` tail: length word, data right-padded to 32 bytes."""
    return _word(len(data)) + data + b"\x00" * (-len(data) % 32)


def _abi_tuple(*items: tuple[bool, bytes]) -> bytes:
    """Encode a tuple from (is_dynamic, encoding) items."""
    head, tail = b"", b""
    for dynamic, enc in items:
        if dynamic:
            head += _word(32 * len(items) + len(tail))
            tail += enc
        else:
            assert len(enc) == 32
            head += enc
    return head + tail


def _abi_bytes_array(values: tuple[bytes, ...]) -> bytes:
    """``bytes[]``: element count, then the elements encoded as a tuple of ``bytes``."""
    return _word(len(values)) + _abi_tuple(*((True, _abi_bytes(v)) for v in values))


def ref_payload_hash(p: Payload) -> bytes:
    return keccak(
        _abi_tuple(
            (True, _abi_bytes(p.func.encode())),
            (True, _abi_bytes_array(p.args)),
            (False, _word(int(p.encrypted))),
        )
    )


def ref_signed_digest(hub_id: str, target: str, ibtp: IBTP, status: int) -> bytes:
    domain = keccak(b"relayhub.relay-proof.v2")
    return keccak(
        _abi_tuple(
            (False, domain),
            (True, _abi_bytes(hub_id.encode())),
            (True, _abi_bytes(target.encode())),
            (True, _abi_bytes(ibtp.src.encode())),
            (True, _abi_bytes(ibtp.dst.encode())),
            (False, _word(ibtp.index)),
            (False, _word(int(ibtp.type))),
            (False, ref_payload_hash(ibtp.payload)),
            (False, _word(status)),
        )
    )


def test_abi_reference_matches_a_known_encoding() -> None:
    # abi.encode(string "ab", bytes[] [0x01], bool true), laid out word by word.
    enc = _abi_tuple(
        (True, _abi_bytes(b"ab")),
        (True, _abi_bytes_array((b"\x01",))),
        (False, _word(1)),
    )
    words = [enc[i : i + 32] for i in range(0, len(enc), 32)]
    assert words == [
        _word(0x60),  # offset of the string
        _word(0xA0),  # offset of the bytes[]
        _word(1),  # true
        _word(2),  # string length
        b"ab" + b"\x00" * 30,
        _word(1),  # bytes[] length
        _word(0x20),  # offset of element 0, relative to just after the length word
        _word(1),  # element 0 length
        b"\x01" + b"\x00" * 31,
    ]


def test_relay_proof_domain_is_the_documented_constant() -> None:
    documented = "c80ddd02d7eb700aaac9bb5d1d67edef9c6cb63550f59f976f535d7951939da6"
    assert RELAY_PROOF_DOMAIN.hex() == documented
    assert keccak(b"relayhub.relay-proof.v2") == RELAY_PROOF_DOMAIN


# ---------------------------------------------------------------------------
# On-disk vectors


def test_vector_set_is_present_and_covers_every_type() -> None:
    assert len(VALID_FILES) >= 12
    assert len(INVALID_FILES) >= 20
    types = {load(f)["decoded"]["type"] for f in VALID_FILES}
    assert types == {t.value for t in IBTPType}


def test_vectors_are_up_to_date_with_the_generator() -> None:
    spec = importlib.util.spec_from_file_location("_vector_generator", VECTORS / "generate.py")
    assert spec is not None and spec.loader is not None
    gen: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    files = gen.build_all()
    stale = [
        rel
        for rel, text in files.items()
        if not (VECTORS / rel).exists() or (VECTORS / rel).read_text(encoding="utf-8") != text
    ]
    on_disk = {
        str(p.relative_to(VECTORS)) for d in gen.MANAGED_DIRS for p in (VECTORS / d).glob("*.json")
    }
    extra = sorted(on_disk - set(files))
    assert not stale and not extra, (
        f"vectors differ from tests/vectors/generate.py (stale: {stale}, not generated: "
        f"{extra}); run `.venv/bin/python tests/vectors/generate.py` and review the diff"
    )


@pytest.mark.parametrize("path", VALID_FILES, ids=lambda p: p.stem)
def test_valid_vector(path: Path) -> None:
    v = load(path)
    encoded = unhex(v["encoded"])
    expected = ibtp_from_json(v["decoded"])

    decoded = decode_ibtp(encoded)
    assert decoded == expected
    assert ibtp_to_json(decoded) == v["decoded"]
    assert encode_ibtp(expected) == encoded

    assert decoded.id == v["ibtp_id"] == compute_ibtp_id(decoded.src, decoded.dst, decoded.index)
    assert compute_ibtp_hash(decoded).hex() == v["ibtp_hash"][2:]
    assert keccak(encode_ibtp_unproven(decoded)).hex() == v["ibtp_hash"][2:]
    assert compute_payload_hash(decoded.payload).hex() == v["payload_hash"][2:]
    assert ref_payload_hash(decoded.payload).hex() == v["payload_hash"][2:]
    assert compute_notary_digest(unhex(v["ibtp_hash"])).hex() == v["notary_digest"][2:]
    assert keccak(b"relayhub.notary.v1" + unhex(v["ibtp_hash"])).hex() == v["notary_digest"][2:]

    chains = [decoded.dst.split(":")[1], decoded.src.split(":")[1]]
    assert [(d["target_chain"], d["status"]) for d in v["signed_digest"]] == [
        (c, s.value) for c in chains for s in TxStatus if s is not TxStatus.SOURCE_ROLLBACK
    ]
    for entry in v["signed_digest"]:
        status = TxStatus(entry["status"])
        assert entry["status_name"] == status.name
        digest = unhex(entry["digest"])
        target = entry["target_chain"]
        assert compute_signed_digest(entry["hub_id"], target, decoded, status) == digest
        assert ref_signed_digest(entry["hub_id"], target, decoded, status) == digest


def _invalid_params() -> list[Any]:
    params = []
    for path in INVALID_FILES:
        marks = []
        if path.stem in KNOWN_BUGS:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[path.stem]))
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


@pytest.mark.parametrize("path", _invalid_params())
def test_invalid_vector(path: Path) -> None:
    v = load(path)
    with pytest.raises(EncodingError) as exc:
        decode_ibtp(unhex(v["encoded"]))
    assert Code(v["error"]["code"]).name == v["error"]["name"]
    assert exc.value.code == v["error"]["code"], exc.value.message


def test_invalid_vectors_are_refused_whatever_the_code() -> None:
    # The known-bug vectors are still refused, only with another code.
    for path in INVALID_FILES:
        with pytest.raises(EncodingError):
            decode_ibtp(unhex(load(path)["encoded"]))


def test_invalid_vectors_cover_every_decoder_code() -> None:
    codes = {load(p)["error"]["code"] for p in INVALID_FILES}
    assert codes >= {1001, 1002, 1003, 1004, 1005, 1006}


# ---------------------------------------------------------------------------
# Strategies

ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"


def id_part(max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=ID_CHARS, min_size=1, max_size=max_size)


service_ids = st.builds(lambda h, c, s: f"{h}:{c}:{s}", id_part(64), id_part(64), id_part(128))
utf8_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=MAX_FUNC_CHARS)
payloads = st.builds(
    Payload,
    func=utf8_text,
    args=st.lists(st.binary(max_size=300), max_size=MAX_ARGS).map(tuple),
    encrypted=st.booleans(),
)
requests = st.builds(
    IBTP,
    src=service_ids,
    dst=service_ids,
    index=st.integers(1, UINT64_MAX),
    type=st.just(IBTPType.INTERCHAIN),
    timeout=st.integers(0, UINT64_MAX),
    payload=payloads,
    proof=st.binary(max_size=300),
    extra=st.binary(max_size=300),
)
# A receipt carries timeout 0, no extra and ["", [result], false] (["", [], false] for
# a rollback): docs/protocol.md §2.
receipts = st.builds(
    IBTP,
    src=service_ids,
    dst=service_ids,
    index=st.integers(1, UINT64_MAX),
    type=st.sampled_from([IBTPType.RECEIPT_SUCCESS, IBTPType.RECEIPT_FAILURE]),
    payload=st.binary(max_size=300).map(lambda r: Payload("", (r,), False)),
    proof=st.binary(max_size=300),
) | st.builds(
    IBTP,
    src=service_ids,
    dst=service_ids,
    index=st.integers(1, UINT64_MAX),
    type=st.just(IBTPType.RECEIPT_ROLLBACK),
    proof=st.binary(max_size=300),
)
ibtps = requests | receipts


# ---------------------------------------------------------------------------
# Codec properties


@fuzz(300)
@given(ibtps)
def test_encode_decode_round_trip(ibtp: IBTP) -> None:
    data = encode_ibtp(ibtp)
    back = decode_ibtp(data)
    assert back == ibtp
    assert encode_ibtp(back) == data
    # The generic msgpack reading agrees with the positional layout of §2.1.
    p = ibtp.payload
    assert msgpack.unpackb(data, raw=False) == [
        1,
        ibtp.src,
        ibtp.dst,
        ibtp.index,
        int(ibtp.type),
        ibtp.timeout,
        [p.func, list(p.args), p.encrypted],
        ibtp.proof,
        ibtp.extra,
    ]


def _decode_or_refuse(data: bytes) -> IBTP | None:
    """Decode; the only allowed failure is an EncodingError with a 1xxx code."""
    try:
        ibtp = decode_ibtp(data)
    except EncodingError as exc:
        assert 1001 <= exc.code <= 1009, exc.code
        return None
    # Accepted input is canonical: it re-encodes to exactly the same bytes.
    assert encode_ibtp(ibtp) == data
    return ibtp


@fuzz(400)
@given(st.binary(max_size=600))
def test_decoder_refuses_arbitrary_bytes_only_with_encoding_error(data: bytes) -> None:
    _decode_or_refuse(data)


@fuzz(400)
@given(ibtps, st.data())
def test_decoder_on_single_byte_mutations(ibtp: IBTP, data: st.DataObject) -> None:
    encoded = encode_ibtp(ibtp)
    pos = data.draw(st.integers(0, len(encoded) - 1), label="position")
    new = data.draw(st.integers(0, 255).filter(lambda b: b != encoded[pos]), label="byte")
    mutated = encoded[:pos] + bytes([new]) + encoded[pos + 1 :]
    _decode_or_refuse(mutated)


@fuzz(200)
@given(ibtps, st.data())
def test_decoder_on_truncation_and_insertion(ibtp: IBTP, data: st.DataObject) -> None:
    encoded = encode_ibtp(ibtp)
    cut = data.draw(st.integers(0, len(encoded) - 1), label="cut")
    assert _decode_or_refuse(encoded[:cut]) is None
    pos = data.draw(st.integers(0, len(encoded)), label="insert at")
    extra = data.draw(st.binary(min_size=1, max_size=3), label="inserted")
    _decode_or_refuse(encoded[:pos] + extra + encoded[pos:])


# Arbitrary msgpack values, and 9-element arrays mixing valid and arbitrary fields:
# these reach the field checks that random bytes seldom get past.
msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), UINT64_MAX)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=12,
)


def _fields(ibtp: IBTP) -> list[Any]:
    p = ibtp.payload
    return [
        ibtp.version,
        ibtp.src,
        ibtp.dst,
        ibtp.index,
        int(ibtp.type),
        ibtp.timeout,
        [p.func, list(p.args), p.encrypted],
        ibtp.proof,
        ibtp.extra,
    ]


@fuzz(300)
@given(msgpack_values)
def test_decoder_on_arbitrary_msgpack_values(value: Any) -> None:
    _decode_or_refuse(msgpack.packb(value, use_bin_type=True))


@fuzz(400)
@given(ibtps, st.data())
def test_decoder_on_ibtps_with_one_field_replaced(ibtp: IBTP, data: st.DataObject) -> None:
    fields = _fields(ibtp)
    payload_slot = data.draw(st.booleans(), label="replace inside payload")
    if payload_slot:
        i = data.draw(st.integers(0, 2), label="payload field")
        fields[6][i] = data.draw(msgpack_values, label="value")
    else:
        i = data.draw(st.integers(0, 8), label="field")
        fields[i] = data.draw(msgpack_values, label="value")
    _decode_or_refuse(msgpack.packb(fields, use_bin_type=True))


def test_decoder_refuses_non_bytes_input() -> None:
    for value in ("0x90", None, 144, [1]):
        with pytest.raises(EncodingError) as exc:
            decode_ibtp(value)  # type: ignore[arg-type]
        assert exc.value.code == Code.FIELD_TYPE


def test_decoder_accepts_bytearray_and_memoryview() -> None:
    ibtp = IBTP(src="h:a:s", dst="h:b:t", index=1)
    data = encode_ibtp(ibtp)
    assert decode_ibtp(bytearray(data)) == ibtp
    assert decode_ibtp(memoryview(data)) == ibtp


def _limit_ibtp(**payload: Any) -> IBTP:
    extra = payload.pop("extra", b"")
    proof = payload.pop("proof", b"")
    return IBTP(
        src="h:a:s", dst="h:b:t", index=1, payload=Payload(**payload), proof=proof, extra=extra
    )


@pytest.mark.parametrize(
    ("at_limit", "over_limit"),
    [
        (dict(func="f" * MAX_FUNC_CHARS), dict(func="f" * (MAX_FUNC_CHARS + 1))),
        (dict(func="€" * MAX_FUNC_CHARS), dict(func="€" * (MAX_FUNC_CHARS + 1))),
        (dict(args=(b"",) * MAX_ARGS), dict(args=(b"",) * (MAX_ARGS + 1))),
        (dict(args=(b"a" * MAX_ARG_BYTES,)), dict(args=(b"a" * (MAX_ARG_BYTES + 1),))),
        (dict(extra=b"e" * MAX_EXTRA_BYTES), dict(extra=b"e" * (MAX_EXTRA_BYTES + 1))),
        (dict(proof=b"p" * MAX_PROOF_BYTES), dict(proof=b"p" * (MAX_PROOF_BYTES + 1))),
    ],
    ids=["func", "func-multibyte", "arg-count", "arg-size", "extra", "proof"],
)
def test_limits_are_inclusive(at_limit: dict[str, Any], over_limit: dict[str, Any]) -> None:
    ok = _limit_ibtp(**at_limit)
    assert decode_ibtp(encode_ibtp(ok)) == ok
    with pytest.raises(EncodingError) as exc:
        decode_ibtp(encode_ibtp(_limit_ibtp(**over_limit)))
    assert exc.value.code == Code.FIELD_TOO_LARGE


def test_total_size_limit_is_inclusive() -> None:
    # Every field within its own limit; only the total of MAX_IBTP_BYTES binds.
    def sized(k: int) -> IBTP:
        args = (b"x" * MAX_ARG_BYTES,) * 7 + (b"y" * k,)
        return IBTP(src="h:a:s", dst="h:b:t", index=1, payload=Payload(args=args))

    k = 256 + MAX_IBTP_BYTES - len(encode_ibtp(sized(256)))
    assert 256 <= k < MAX_ARG_BYTES
    exact = sized(k)
    assert len(encode_ibtp(exact)) == MAX_IBTP_BYTES
    assert decode_ibtp(encode_ibtp(exact)) == exact
    with pytest.raises(EncodingError) as exc:
        decode_ibtp(encode_ibtp(sized(k + 1)))
    assert exc.value.code == Code.FIELD_TOO_LARGE


# ---------------------------------------------------------------------------
# Service IDs and IBTP IDs


@fuzz(200)
@given(id_part(64), id_part(64), id_part(128))
def test_service_id_accepts_the_documented_character_set(hub: str, chain: str, svc: str) -> None:
    sid = parse_service_id(f"{hub}:{chain}:{svc}")
    assert (sid.hub, sid.chain, sid.service) == (hub, chain, svc)
    assert str(sid) == f"{hub}:{chain}:{svc}"
    assert sid.chain_key == f"{hub}:{chain}"


@fuzz(300)
@given(
    id_part(64),
    id_part(64),
    id_part(128),
    st.integers(0, 2),
    st.characters().filter(lambda c: c not in ID_CHARS),
    st.data(),
)
def test_service_id_refuses_any_other_character(
    hub: str, chain: str, svc: str, part: int, bad: str, data: st.DataObject
) -> None:
    parts = [hub, chain, svc]
    pos = data.draw(st.integers(0, len(parts[part])), label="position")
    parts[part] = parts[part][:pos] + bad + parts[part][pos:]
    with pytest.raises(EncodingError) as exc:
        parse_service_id(":".join(parts))
    assert exc.value.code == Code.BAD_SERVICE_ID


@pytest.mark.parametrize(
    "text",
    [
        "hub0:appchain1:0x5ebceeff50fc2cb43b9f5e51bbe4ea9f737af85c",
        "a:b:c",
        "hub-1.x_Y:chain.2:mycc",
        "h" * 64 + ":" + "c" * 64 + ":" + "s" * 128,
        "0:0:0",
        "...:---:___",
    ],
)
def test_service_id_accepts(text: str) -> None:
    assert str(parse_service_id(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a:b",
        "a:b:c:d",
        "::",
        "a::c",
        ":b:c",
        "a:b:",
        " a:b:c",
        "a:b:c ",
        "a:b:c\n",
        "a:b:c\x00",
        "a:b:c~1",
        "a:b:c/d",
        "a:b:c@d",
        "a:b:ç",
        "a:b:\u0663",  # ARABIC-INDIC DIGIT THREE: a digit, but not 0-9
        "a:b:\uff41",  # FULLWIDTH LATIN SMALL LETTER A
        "a:b:\u212a",  # KELVIN SIGN (case-folds to 'k')
        "h" * 65 + ":b:c",
        "a:" + "c" * 65 + ":c",
        "a:b:" + "s" * 129,
    ],
)
def test_service_id_refuses(text: str) -> None:
    with pytest.raises(EncodingError) as exc:
        parse_service_id(text)
    assert exc.value.code == Code.BAD_SERVICE_ID


@pytest.mark.parametrize("value", [None, b"a:b:c", 1, ["a", "b", "c"]])
def test_service_id_refuses_non_strings(value: object) -> None:
    with pytest.raises(EncodingError) as exc:
        parse_service_id(value)
    assert exc.value.code == Code.BAD_SERVICE_ID


@fuzz(200)
@given(service_ids, service_ids, st.integers(1, UINT64_MAX))
def test_ibtp_id_round_trip(src: str, dst: str, index: int) -> None:
    assert parse_ibtp_id(compute_ibtp_id(src, dst, index)) == (src, dst, index)


@pytest.mark.parametrize(
    "text",
    [
        "a:b:c~a:b:d",
        "a:b:c~a:b:d~1~2",
        "a:b:c~a:b:d~",
        "a:b:c~a:b:d~x",
        "a:b:c~a:b:d~-1",
        "a:b:c~a:b:d~ 1",
        "a:b:c~a:b:d~1\n",
        "a:b~a:b:d~1",
    ],
)
def test_ibtp_id_refuses(text: str) -> None:
    with pytest.raises(EncodingError):
        parse_ibtp_id(text)


@pytest.mark.parametrize("index_text", ["\u00b2", "\u0663", "01", "0", str(2**64)], ids=repr)
def test_ibtp_id_refuses_non_canonical_index(index_text: str) -> None:
    with pytest.raises(EncodingError):
        parse_ibtp_id(f"a:b:c~a:b:d~{index_text}")


# ---------------------------------------------------------------------------
# Digests


@fuzz(150)
@given(ibtps, st.binary(max_size=200))
def test_ibtp_hash_ignores_the_proof(ibtp: IBTP, other_proof: bytes) -> None:
    other = IBTP(**{**_as_kwargs(ibtp), "proof": other_proof})
    assert compute_ibtp_hash(other) == compute_ibtp_hash(ibtp)
    unproven = IBTP(**{**_as_kwargs(ibtp), "proof": b""})
    assert compute_ibtp_hash(ibtp) == keccak(encode_ibtp(unproven))


@fuzz(150)
@given(
    ibtps,
    st.sampled_from(
        ["src", "dst", "index", "type", "timeout", "func", "args", "encrypted", "extra"]
    ),
    st.data(),
)
def test_ibtp_hash_covers_every_other_field(ibtp: IBTP, name: str, data: st.DataObject) -> None:
    changed = _change(ibtp, name, data)
    assert compute_ibtp_hash(changed) != compute_ibtp_hash(ibtp)


def _as_kwargs(ibtp: IBTP) -> dict[str, Any]:
    return {
        "src": ibtp.src,
        "dst": ibtp.dst,
        "index": ibtp.index,
        "type": ibtp.type,
        "timeout": ibtp.timeout,
        "payload": ibtp.payload,
        "proof": ibtp.proof,
        "extra": ibtp.extra,
        "version": ibtp.version,
    }


def _change(ibtp: IBTP, name: str, data: st.DataObject) -> IBTP:
    """``ibtp`` with field ``name`` set to a different valid value."""
    kw = _as_kwargs(ibtp)
    p = ibtp.payload
    if name in ("src", "dst"):
        kw[name] = data.draw(service_ids.filter(lambda s: s != kw[name]), label=name)
    elif name == "index":
        kw[name] = data.draw(st.integers(1, UINT64_MAX).filter(lambda i: i != ibtp.index))
    elif name == "timeout":
        kw[name] = data.draw(st.integers(0, UINT64_MAX).filter(lambda i: i != ibtp.timeout))
    elif name == "type":
        kw[name] = data.draw(st.sampled_from([t for t in IBTPType if t != ibtp.type]))
    elif name == "func":
        kw["payload"] = Payload(
            data.draw(utf8_text.filter(lambda f: f != p.func)), p.args, p.encrypted
        )
    elif name == "args":
        new_args = data.draw(
            st.lists(st.binary(max_size=64), max_size=8).map(tuple).filter(lambda a: a != p.args)
        )
        kw["payload"] = Payload(p.func, new_args, p.encrypted)
    elif name == "encrypted":
        kw["payload"] = Payload(p.func, p.args, not p.encrypted)
    elif name in ("extra", "proof"):
        kw[name] = data.draw(st.binary(max_size=64).filter(lambda b: b != kw[name]))
    else:  # pragma: no cover
        raise AssertionError(name)
    return IBTP(**kw)


hub_ids = id_part(64)
statuses = st.sampled_from(TxStatus)


@fuzz(300)
@given(
    hub_ids,
    ibtps,
    statuses,
    st.sampled_from(
        ["hub", "target", "src", "dst", "index", "type", "func", "args", "encrypted", "status"]
    ),
    st.data(),
)
def test_signed_digest_changes_with_every_executed_field(
    hub: str, ibtp: IBTP, status: TxStatus, name: str, data: st.DataObject
) -> None:
    target = ibtp.dst.split(":")[1]
    before = compute_signed_digest(hub, target, ibtp, status)
    if name == "hub":
        other_hub = data.draw(hub_ids.filter(lambda h: h != hub))
        after = compute_signed_digest(other_hub, target, ibtp, status)
    elif name == "target":
        # the chain a proof is addressed to: the source's proof never verifies at the
        # destination (docs/protocol.md §2.2)
        other = data.draw(hub_ids.filter(lambda c: c != target))
        after = compute_signed_digest(hub, other, ibtp, status)
    elif name == "status":
        other_status = data.draw(st.sampled_from([s for s in TxStatus if s != status]))
        after = compute_signed_digest(hub, target, ibtp, other_status)
    else:
        after = compute_signed_digest(hub, target, _change(ibtp, name, data), status)
    assert after != before


@fuzz(150)
@given(hub_ids, ibtps, statuses, st.sampled_from(["timeout", "proof", "extra"]), st.data())
def test_signed_digest_ignores_fields_the_broker_does_not_execute(
    hub: str, ibtp: IBTP, status: TxStatus, name: str, data: st.DataObject
) -> None:
    changed = _change(ibtp, name, data)
    assert compute_signed_digest(hub, "c", changed, status) == compute_signed_digest(
        hub, "c", ibtp, status
    )


@fuzz(300)
@given(hub_ids, hub_ids, ibtps, statuses)
def test_signed_digest_matches_independent_abi_encoding(
    hub: str, target: str, ibtp: IBTP, status: TxStatus
) -> None:
    assert compute_payload_hash(ibtp.payload) == ref_payload_hash(ibtp.payload)
    assert compute_signed_digest(hub, target, ibtp, status) == ref_signed_digest(
        hub, target, ibtp, int(status)
    )


def test_signed_digest_accepts_plain_int_status() -> None:
    ibtp = IBTP(src="h:a:s", dst="h:b:t", index=1)
    for status in TxStatus:
        assert compute_signed_digest("h", "b", ibtp, int(status)) == compute_signed_digest(
            "h", "b", ibtp, status
        )


def test_payload_hash_distinguishes_arg_boundaries() -> None:
    # ["ab"] vs ["a", "b"] vs func/arg swaps: ABI offsets keep them apart.
    hashes = {
        compute_payload_hash(Payload("", (b"ab",))),
        compute_payload_hash(Payload("", (b"a", b"b"))),
        compute_payload_hash(Payload("ab", ())),
        compute_payload_hash(Payload("a", (b"b",))),
        compute_payload_hash(Payload("", (b"ab", b""))),
        compute_payload_hash(Payload("", (b"", b"ab"))),
        compute_payload_hash(Payload("", ())),
        compute_payload_hash(Payload("", (b"",))),
    }
    assert len(hashes) == 8
