"""Fabric endorsement policies: the policy language, compilation, evaluation.

Expected envelopes are written out in protobuf wire format by hand below (field numbers
from hyperledger/fabric-protos ``common/policies.proto`` and ``msp/msp_principal.proto``;
proto3 leaves zero scalars out, a oneof member is written even when zero, as both Go's
and Python's encoders do). Their structure — identity order and rule order — is that of
Fabric's ``common/policydsl/policyparser_test.go`` (TestOutOf1, TestAnd, TestComplex1,
TestComplex2, TestNodeOUs, TestMSPIDWIthSpecialChars, TestSecondPassBoundaryCheck).
"""

from __future__ import annotations

import pytest
from fabric_orgs import ORG1, ORG2, ORG3, identity
from fabric_protos.common import policies_pb2
from fabric_protos.msp import msp_principal_pb2

from adapters.fabric.errors import PolicyError, PolicySyntaxError
from adapters.fabric.identity import Identity
from adapters.fabric.policy import (
    Gate,
    Principal,
    Role,
    compile_policy,
    deduplicate,
    evaluate_policy,
    format_policy,
    parse_policy,
    policy_from_string,
)

# --- a protobuf wire encoder, independent of the protobuf library --------------------

MEMBER, ADMIN, CLIENT, PEER, ORDERER = 0, 1, 2, 3, 4


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def vfield(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def bfield(number: int, value: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(value)) + value


def signed_by(index: int) -> bytes:  # SignaturePolicy.signed_by = 1 (oneof: always written)
    return vfield(1, index)


def n_out_of(n: int, *rules: bytes) -> bytes:  # SignaturePolicy.n_out_of = 2 {n = 1, rules = 2}
    body = (vfield(1, n) if n else b"") + b"".join(bfield(2, r) for r in rules)
    return bfield(2, body)


def envelope(rule: bytes, *identities: tuple[str, int]) -> bytes:
    # SignaturePolicyEnvelope {version = 1 (0: omitted), rule = 2, identities = 3}
    # MSPPrincipal {principal_classification = 1 (ROLE = 0: omitted), principal = 2}
    # MSPRole {msp_identifier = 1, role = 2 (MEMBER = 0: omitted)}
    out = bfield(2, rule)
    for msp, role in identities:
        msp_role = bfield(1, msp.encode()) + (vfield(2, role) if role else b"")
        out += bfield(3, bfield(2, msp_role))
    return out


EXPECTED = [
    (  # TestOutOf1
        "OutOf(1, 'A.member', 'B.member')",
        envelope(n_out_of(1, signed_by(0), signed_by(1)), ("A", MEMBER), ("B", MEMBER)),
    ),
    (
        "AND('Org1MSP.peer', 'Org2MSP.peer')",
        envelope(n_out_of(2, signed_by(0), signed_by(1)), ("Org1MSP", PEER), ("Org2MSP", PEER)),
    ),
    (
        "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')",
        envelope(
            n_out_of(2, signed_by(0), signed_by(1), signed_by(2)),
            ("Org1MSP", PEER),
            ("Org2MSP", PEER),
            ("Org3MSP", PEER),
        ),
    ),
    (  # TestComplex1: the nested gate's principals are numbered first
        "OR('A.member', AND('B.member', 'C.member'))",
        envelope(
            n_out_of(1, signed_by(2), n_out_of(2, signed_by(0), signed_by(1))),
            ("B", MEMBER),
            ("C", MEMBER),
            ("A", MEMBER),
        ),
    ),
    (  # TestComplex2
        "OR(AND('A.member', 'B.member'), OR('C.admin', 'D.member'))",
        envelope(
            n_out_of(
                1,
                n_out_of(2, signed_by(0), signed_by(1)),
                n_out_of(1, signed_by(2), signed_by(3)),
            ),
            ("A", MEMBER),
            ("B", MEMBER),
            ("C", ADMIN),
            ("D", MEMBER),
        ),
    ),
    (  # TestNodeOUs
        "OR('A.peer', 'B.admin', 'C.orderer', 'D.client')",
        envelope(
            n_out_of(1, signed_by(0), signed_by(1), signed_by(2), signed_by(3)),
            ("A", PEER),
            ("B", ADMIN),
            ("C", ORDERER),
            ("D", CLIENT),
        ),
    ),
    (  # TestMSPIDWIthSpecialChars
        "OR('MSP.member', 'MSP.WITH.DOTS.member', 'MSP-WITH-DASHES.member')",
        envelope(
            n_out_of(1, signed_by(0), signed_by(1), signed_by(2)),
            ("MSP", MEMBER),
            ("MSP.WITH.DOTS", MEMBER),
            ("MSP-WITH-DASHES", MEMBER),
        ),
    ),
    (  # TestSecondPassBoundaryCheck: t = 0 (n omitted on the wire) and t = n + 1
        "OutOf(0, 'A.member', 'B.member')",
        envelope(n_out_of(0, signed_by(0), signed_by(1)), ("A", MEMBER), ("B", MEMBER)),
    ),
    (
        "OutOf(3, 'A.member', 'B.member')",
        envelope(n_out_of(3, signed_by(0), signed_by(1)), ("A", MEMBER), ("B", MEMBER)),
    ),
    (  # a principal named twice is two identities: Fabric does not deduplicate them
        "AND('A.peer', OR('A.peer', 'B.peer'), 'A.peer')",
        envelope(
            n_out_of(3, signed_by(2), n_out_of(1, signed_by(0), signed_by(1)), signed_by(3)),
            ("A", PEER),
            ("B", PEER),
            ("A", PEER),
            ("A", PEER),
        ),
    ),
]


@pytest.mark.parametrize(("text", "expected"), EXPECTED, ids=[t for t, _ in EXPECTED])
def test_compiled_envelope_is_fabrics_bytes(text: str, expected: bytes) -> None:
    compiled = policy_from_string(text)
    assert isinstance(compiled, policies_pb2.SignaturePolicyEnvelope)
    assert compiled.SerializeToString() == expected
    # and the bytes read back as Fabric's messages, field by field
    back = policies_pb2.SignaturePolicyEnvelope.FromString(expected)
    assert back == compiled
    assert back.version == 0
    for p in back.identities:
        assert p.principal_classification == msp_principal_pb2.MSPPrincipal.ROLE


def test_signed_by_zero_is_written() -> None:
    """SignedBy(0) is a oneof member set to zero: it must be on the wire (08 00)."""
    rule = policy_from_string("OR('A.member')").rule.n_out_of.rules[0]
    assert rule.WhichOneof("Type") == "signed_by"
    assert rule.SerializeToString() == b"\x08\x00"


# --- parsing --------------------------------------------------------------------------

ROUND_TRIPS = [
    "AND('Org1MSP.peer', 'Org2MSP.peer')",
    "OR('Org1MSP.peer', 'Org2MSP.member')",
    "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')",
    "OR(AND('Org1MSP.peer', 'Org2MSP.peer'), OutOf(2, 'Org1MSP.admin', 'Org2MSP.client', "
    "'Org3MSP.orderer'))",
    "AND('A.peer')",
    "OutOf(0, 'A.member', 'B.member')",
    "OutOf(3, 'A.member', 'B.member')",
    "OR('MSP.WITH.DOTS.member', 'MSP-WITH-DASHES.peer')",
]


@pytest.mark.parametrize("text", ROUND_TRIPS)
def test_canonical_policies_round_trip(text: str) -> None:
    tree = parse_policy(text)
    assert format_policy(tree) == text
    assert parse_policy(format_policy(tree)) == tree
    assert compile_policy(parse_policy(format_policy(tree))) == compile_policy(tree)


@pytest.mark.parametrize(
    "spelling",
    [
        "and('Org1MSP.peer', 'Org2MSP.peer')",
        "And( 'Org1MSP.peer' ,'Org2MSP.peer' )",
        'AND("Org1MSP.peer", "Org2MSP.peer")',
        "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer')",
        "outof('2', 'Org1MSP.peer', 'Org2MSP.peer')",
        "OUTOF(2,'Org1MSP.peer','Org2MSP.peer')",
        "\n AND('Org1MSP.peer',\t'Org2MSP.peer') \n",
    ],
)
def test_fabrics_other_spellings_parse_the_same(spelling: str) -> None:
    assert format_policy(parse_policy(spelling)) == "AND('Org1MSP.peer', 'Org2MSP.peer')"


def test_parse_tree() -> None:
    tree = parse_policy("OR('Org1.MSP.peer', AND('B.member', 'C.admin'))")
    assert tree == Gate(
        1,
        (
            Principal("Org1.MSP", Role.PEER),  # the MSP ID takes every dot but the last
            Gate(2, (Principal("B", Role.MEMBER), Principal("C", Role.ADMIN))),
        ),
    )


REFUSED = [
    ("", "the policy is empty", 0),
    ("   ", "the policy is empty", 3),
    ("'Org1MSP.peer'", "a policy is a gate", 0),
    ("XOR('A.peer')", "unknown gate 'XOR'", 0),
    ("oR('A.peer')", "unknown gate 'oR'", 0),
    ("AND(Org1MSP.peer)", "unrecognized token 'Org1MSP.peer': principals are quoted", 4),
    ("OR('A.member', Bmember)", "unrecognized token 'Bmember'", 15),
    ("OR('A.member', 'Bmember')", "'Bmember' is not a principal 'MSPID.ROLE'", 15),
    ("AND('Org1MSP.Peer')", "'Org1MSP.Peer' is not a principal", 4),
    ("AND('Org1MSP.auditor')", "is not a principal", 4),
    ("AND('Org 1.peer')", "is not a principal", 4),
    ("AND()", "expected a quoted principal or a gate, found ')'", 4),
    ("AND('A.peer',)", "expected a quoted principal or a gate, found ')'", 13),
    ("AND('A.peer'", "expected ')' to close AND(, found the end of the policy", 12),
    ("AND 'A.peer'", "expected '(' after AND", 4),
    ("AND('A.peer') OR('B.peer')", "unexpected 'OR' after the policy", 14),
    ("AND('A.peer'))", "unexpected ')' after the policy", 13),
    ("AND('A.peer", "an unterminated or escaped string", 4),
    ("AND('A\\'.peer')", "an unterminated or escaped string", 4),
    ("AND('A.peer'; 'B.peer')", "unexpected character ';'", 12),
    ("OutOf(1)", "OutOf needs at least one principal or gate", 0),
    ("OutOf('A.peer', 'B.peer')", "OutOf's first argument must be an integer t, not 'A.peer'", 6),
    ("OutOf(1.5, 'A.peer')", "unexpected character '.'", 7),
    ("OutOf(-1, 'A.member', 'B.member')", "invalid t-out-of-n: t = -1 with n = 2", 0),
    ("OutOf(4, 'A.member', 'B.member')", "invalid t-out-of-n: t = 4 with n = 2", 0),
    ("AND('A.peer', 1)", "expected a quoted principal or a gate, found '1'", 14),
    ("AND(" * 40 + "'A.peer'" + ")" * 40, "gates nest deeper than 32", 128),
]


@pytest.mark.parametrize(("text", "message", "position"), REFUSED, ids=[r[0][:40] for r in REFUSED])
def test_syntax_errors_say_what_and_where(text: str, message: str, position: int) -> None:
    with pytest.raises(PolicySyntaxError) as info:
        parse_policy(text)
    assert message in str(info.value)
    assert info.value.position == position
    assert f"at position {position} of policy {text!r}" in str(info.value)


# --- evaluation -----------------------------------------------------------------------

P1, P1B, P2, P3 = (identity(m) for m in (ORG1.peer0, ORG1.peer1, ORG2.peer0, ORG3.peer0))
C1, C2, A1, O1 = (identity(m) for m in (ORG1.client, ORG2.client, ORG1.admin, ORG1.orderer))


def holds(policy: str, *signers: Identity) -> bool:
    return evaluate_policy(policy_from_string(policy), list(signers))


AND12 = "AND('Org1MSP.peer', 'Org2MSP.peer')"
OR12 = "OR('Org1MSP.peer', 'Org2MSP.peer')"
TWO_OF_THREE = "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')"
NESTED = "AND(OR('Org1MSP.peer', 'Org2MSP.peer'), 'Org3MSP.peer')"

TRUTH = [
    (AND12, (), False),
    (AND12, (P1,), False),
    (AND12, (P2,), False),
    (AND12, (P1, P2), True),
    (AND12, (P2, P1), True),
    (AND12, (P1, P1B), False),  # two peers of one org: Org2 is still missing
    (AND12, (P1, P1), False),  # the same signer twice counts once
    (AND12, (P1, C2), False),  # Org2's client is not a peer
    (AND12, (P1, P3), False),  # Org3 is not named
    (AND12, (P1, P2, P3), True),
    (OR12, (), False),
    (OR12, (P1,), True),
    (OR12, (P2,), True),
    (OR12, (P3,), False),
    (OR12, (C1,), False),
    (OR12, (A1,), False),
    (OR12, (O1,), False),
    (TWO_OF_THREE, (), False),
    (TWO_OF_THREE, (P1,), False),
    (TWO_OF_THREE, (P1, P2), True),
    (TWO_OF_THREE, (P1, P3), True),
    (TWO_OF_THREE, (P2, P3), True),
    (TWO_OF_THREE, (P1, P2, P3), True),
    (TWO_OF_THREE, (P1, P1B), False),  # one org is never counted twice
    (TWO_OF_THREE, (P1, P1, P1), False),
    (TWO_OF_THREE, (P1, C2, C1), False),
    (TWO_OF_THREE, (P1B, P1, P3), True),
    (NESTED, (P3,), False),
    (NESTED, (P1, P3), True),
    (NESTED, (P2, P3), True),
    (NESTED, (P1, P2), False),
    (NESTED, (P1, P2, P3), True),
    ("AND('Org1MSP.member')", (P1,), True),
    ("AND('Org1MSP.member')", (C1,), True),
    ("AND('Org1MSP.member')", (A1,), True),
    ("AND('Org1MSP.member')", (O1,), True),
    ("AND('Org1MSP.member')", (P2,), False),
    ("AND('Org1MSP.admin')", (A1,), True),
    ("AND('Org1MSP.admin')", (P1, C1, O1), False),
    ("AND('Org1MSP.client')", (C1,), True),
    ("AND('Org1MSP.client')", (A1,), False),
    ("AND('Org1MSP.orderer')", (O1,), True),
    ("AND('Org1MSP.orderer')", (P1,), False),
    ("AND('Org9MSP.peer')", (P1, P2, P3), False),  # an MSP no signer belongs to
    # a policy naming one org twice is met by two distinct members of it
    ("AND('Org1MSP.peer', 'Org1MSP.peer')", (P1, P1B), True),
    ("AND('Org1MSP.peer', 'Org1MSP.peer')", (P1, P1), False),
    ("OutOf(0, 'Org1MSP.peer', 'Org2MSP.peer')", (), True),
    ("OutOf(3, 'Org1MSP.peer', 'Org2MSP.peer')", (P1, P2, P3), False),
    # Fabric's greedy evaluation: OR runs both sub-rules and keeps both signers...
    ("AND(OR('Org1MSP.member', 'Org2MSP.member'), 'Org1MSP.peer')", (P1, P2), False),
    # ...so the later 'Org1MSP.peer' needs a third signer
    ("AND(OR('Org1MSP.member', 'Org2MSP.member'), 'Org1MSP.peer')", (P1, P2, P1B), True),
    # and a SignedBy takes the first unused match, without backtracking
    ("AND('Org1MSP.member', 'Org1MSP.peer')", (P1, C1), False),
    ("AND('Org1MSP.member', 'Org1MSP.peer')", (C1, P1), True),
]


def _names(signers: tuple[Identity, ...]) -> str:
    return "+".join(s.certificate.subject.rfc4514_string().split(",")[0] for s in signers)


@pytest.mark.parametrize(
    ("policy", "signers", "expected"),
    TRUTH,
    ids=[f"{p}-{_names(s)}" for p, s, _ in TRUTH],
)
def test_evaluation_truth_table(policy: str, signers: tuple[Identity, ...], expected: bool) -> None:
    assert holds(policy, *signers) is expected


def test_deduplicate_keeps_first_of_each_msp_and_certificate() -> None:
    assert deduplicate([P1, P2, P1, P1B, P2]) == [P1, P2, P1B]


def _envelope(**kwargs: object) -> policies_pb2.SignaturePolicyEnvelope:
    env = policy_from_string(AND12)
    for key, value in kwargs.items():
        setattr(env, key, value)
    return env


def test_unusable_envelopes_are_refused() -> None:
    with pytest.raises(PolicyError, match="only version 0"):
        evaluate_policy(_envelope(version=1), [P1, P2])

    out_of_range = policy_from_string(AND12)
    out_of_range.rule.n_out_of.rules[1].signed_by = 2
    with pytest.raises(PolicyError, match=r"SignedBy\(2\) with 2 identities"):
        evaluate_policy(out_of_range, [P1, P2])

    identity_principal = policy_from_string(AND12)
    first = identity_principal.identities[0]
    first.principal_classification = msp_principal_pb2.MSPPrincipal.IDENTITY
    with pytest.raises(PolicyError, match="only ROLE principals"):
        evaluate_policy(identity_principal, [P1, P2])

    garbage = policy_from_string(AND12)
    garbage.identities[0].principal = b"\xff\xff"
    with pytest.raises(PolicyError, match="not an MSPRole"):
        evaluate_policy(garbage, [P1, P2])

    unknown_role = policy_from_string(AND12)
    unknown_role.identities[0].principal = msp_principal_pb2.MSPRole(
        msp_identifier="Org1MSP", role=7
    ).SerializeToString()
    with pytest.raises(PolicyError, match="unknown role 7"):
        evaluate_policy(unknown_role, [P1, P2])

    empty_rule = policy_from_string(AND12)
    empty_rule.rule.n_out_of.rules.add()
    with pytest.raises(PolicyError, match="empty policy element"):
        evaluate_policy(empty_rule, [P1, P2])

    no_rule = policies_pb2.SignaturePolicyEnvelope(identities=_envelope().identities)
    with pytest.raises(PolicyError, match="no rule"):
        evaluate_policy(no_rule, [P1, P2])
