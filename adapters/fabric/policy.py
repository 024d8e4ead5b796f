"""Endorsement policies in Fabric's language, compiled to and evaluated as Fabric does.

**Syntax** (Fabric's ``common/policydsl``): a policy is a gate — ``AND(...)``,
``OR(...)`` or ``OutOf(t, ...)`` (each gate name in exactly the spellings Fabric
registers: ``AND``/``And``/``and``, ``OR``/``Or``/``or``, ``OutOf``/``outof``/``OUTOF``)
over quoted principals ``'MSPID.ROLE'`` (MSP ID of letters, digits, ``.`` and ``-``;
ROLE one of ``admin``, ``member``, ``client``, ``peer``, ``orderer``) and nested gates.
``AND`` is ``t = number of arguments``, ``OR`` is ``t = 1``; ``OutOf`` takes ``t`` as an
integer (or, as Fabric allows, a quoted integer) with ``0 <= t <= n + 1`` (``t = 0``
always holds, ``t = n + 1`` never: Fabric accepts both).

**Compilation** gives the ``common.SignaturePolicyEnvelope`` Fabric's ``FromString``
gives: version 0; each principal occurrence its own ``MSPPrincipal`` (ROLE
classification, the marshalled ``MSPRole``) — Fabric does not deduplicate them; and
the identity indices in Fabric's order: a gate's nested gates take theirs first (its
arguments are evaluated before it runs), then its own principals, left to right. So
``OR('A.member', AND('B.member', 'C.member'))`` has identities ``[B, C, A]`` and rule
``NOutOf(1, [SignedBy(2), NOutOf(2, [SignedBy(0), SignedBy(1)])])`` (Fabric's
``policyparser_test.go``, ``TestComplex1``).

**Evaluation** is Fabric's ``cauthdsl``: the signer identities are first deduplicated
(same MSP ID and same certificate, Fabric's ``MSPID + IdentityIdentifier.Id``; first
occurrence kept), then the rule runs greedily with a "used" mark per identity: a
``SignedBy(i)`` takes the first unused identity satisfying principal ``i`` (same MSP
ID; role ``member`` matches every member, other roles need that NodeOU), an
``NOutOf`` runs every sub-rule in order (no short cut once ``t`` is reached), keeping
a sub-rule's marks only if it held, and holds when at least ``t`` held. So one
signature counts at most once, and one organisation counts once per principal naming
it — never twice toward an ``OutOf`` of distinct organisations.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fabric_protos.common import policies_pb2
from fabric_protos.msp import msp_principal_pb2
from google.protobuf.message import DecodeError

from .errors import PolicyError, PolicySyntaxError
from .identity import Identity

MSPPrincipal = msp_principal_pb2.MSPPrincipal
MSPRole = msp_principal_pb2.MSPRole
SignaturePolicy = policies_pb2.SignaturePolicy
SignaturePolicyEnvelope = policies_pb2.SignaturePolicyEnvelope

#: Nesting deeper than this is refused (Fabric's own parser has no stated bound).
MAX_DEPTH = 32


class Role(enum.IntEnum):
    """The principal roles of the policy language (values are ``MSPRole.MSPRoleType``)."""

    MEMBER = MSPRole.MEMBER
    ADMIN = MSPRole.ADMIN
    CLIENT = MSPRole.CLIENT
    PEER = MSPRole.PEER
    ORDERER = MSPRole.ORDERER


@dataclass(frozen=True, slots=True)
class Principal:
    msp_id: str
    role: Role

    def __str__(self) -> str:
        return f"'{self.msp_id}.{self.role.name.lower()}'"


@dataclass(frozen=True, slots=True)
class Gate:
    """``t`` of ``rules`` must hold."""

    t: int
    rules: tuple[Gate | Principal, ...]


_GATES = {
    **dict.fromkeys(("AND", "And", "and"), "and"),
    **dict.fromkeys(("OR", "Or", "or"), "or"),
    **dict.fromkeys(("OutOf", "outof", "OUTOF"), "outof"),
}
_PRINCIPAL = re.compile(r"([A-Za-z0-9.-]+)\.(admin|member|client|peer|orderer)")
_TOKEN = re.compile(
    r"\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)|(?P<int>-?[0-9]+)"
    r"|'(?P<sq>[^'\\]*)'|\"(?P<dq>[^\"\\]*)\"|(?P<punct>[(),]))"
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # name, int, str, punct, end
    value: str
    position: int


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            out.append(_Token("end", "", pos))
            return out
        m = _TOKEN.match(text, pos)
        if m is None:
            found = text[pos]
            why = (
                "an unterminated or escaped string"
                if found in "'\""
                else f"unexpected character {found!r}"
            )
            raise PolicySyntaxError(why, text, pos)
        start = m.start(m.lastgroup or 0)
        kind = m.lastgroup or ""
        if kind in ("sq", "dq"):
            out.append(_Token("str", m.group(kind), start - 1))
        else:
            out.append(_Token(kind, m.group(kind), start))
        pos = m.end()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0

    @staticmethod
    def show(token: _Token) -> str:
        return "the end of the policy" if token.kind == "end" else repr(token.value)

    def fail(self, message: str, token: _Token | None = None) -> PolicySyntaxError:
        return PolicySyntaxError(message, self.text, (token or self.tokens[self.i]).position)

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expect(self, value: str, after: str) -> None:
        token = self.take()
        if token.value != value or token.kind != "punct":
            raise self.fail(f"expected {value!r} {after}, found {self.show(token)}", token)

    def policy(self) -> Gate:
        token = self.tokens[self.i]
        if token.kind == "end":
            raise self.fail("the policy is empty")
        if token.kind != "name":
            raise self.fail(
                f"a policy is a gate AND(...), OR(...) or OutOf(t, ...), not {token.value!r}"
            )
        gate = self.gate(1)
        end = self.take()
        if end.kind != "end":
            raise self.fail(f"unexpected {end.value!r} after the policy", end)
        return gate

    def gate(self, depth: int) -> Gate:
        name = self.take()
        kind = _GATES.get(name.value)
        if kind is None:
            raise self.fail(
                f"unknown gate {name.value!r}: use AND, OR or OutOf (or a quoted principal)",
                name,
            )
        if depth > MAX_DEPTH:
            raise self.fail(f"gates nest deeper than {MAX_DEPTH}", name)
        self.expect("(", f"after {name.value}")
        t: int | None = None
        if kind == "outof":
            t = self.threshold()
        rules: list[Gate | Principal] = []
        if kind != "outof" or self.tokens[self.i].value == ",":
            if kind == "outof":
                self.take()
            rules.append(self.argument(depth))
            while self.tokens[self.i].kind == "punct" and self.tokens[self.i].value == ",":
                self.take()
                rules.append(self.argument(depth))
        self.expect(")", f"to close {name.value}(")
        if not rules:
            raise self.fail(f"{name.value} needs at least one principal or gate", name)
        if t is None:
            t = len(rules) if kind == "and" else 1
        if not 0 <= t <= len(rules) + 1:
            raise self.fail(
                f"invalid t-out-of-n: t = {t} with n = {len(rules)} (0 <= t <= n + 1)", name
            )
        return Gate(t, tuple(rules))

    def threshold(self) -> int:
        token = self.take()
        if token.kind == "int" or (token.kind == "str" and re.fullmatch(r"-?[0-9]+", token.value)):
            return int(token.value)
        raise self.fail(
            f"OutOf's first argument must be an integer t, not {self.show(token)}", token
        )

    def argument(self, depth: int) -> Gate | Principal:
        token = self.tokens[self.i]
        if token.kind == "name":
            following = self.tokens[self.i + 1]
            if following.kind != "punct" or following.value != "(":
                raise self.fail(
                    f"unrecognized token {token.value!r}: principals are quoted, "
                    f"as in 'Org1MSP.peer'",
                    token,
                )
            return self.gate(depth + 1)
        if token.kind == "str":
            self.take()
            m = _PRINCIPAL.fullmatch(token.value)
            if m is None:
                raise self.fail(
                    f"{token.value!r} is not a principal 'MSPID.ROLE' "
                    "(ROLE: admin, member, client, peer or orderer)",
                    token,
                )
            return Principal(m.group(1), Role[m.group(2).upper()])
        raise self.fail(f"expected a quoted principal or a gate, found {self.show(token)}", token)


def parse_policy(text: str) -> Gate:
    """The policy tree of a Fabric policy string; ``PolicySyntaxError`` says what and where."""
    return _Parser(text).policy()


def format_policy(gate: Gate) -> str:
    """The canonical string of a policy tree (``parse_policy`` reads it back equal)."""
    args = ", ".join(format_policy(r) if isinstance(r, Gate) else str(r) for r in gate.rules)
    if gate.t == len(gate.rules):
        return f"AND({args})"
    if gate.t == 1:
        return f"OR({args})"
    return f"OutOf({gate.t}, {args})"


def compile_policy(gate: Gate) -> policies_pb2.SignaturePolicyEnvelope:
    """The ``SignaturePolicyEnvelope`` Fabric's ``policydsl.FromString`` builds for it."""
    principals: list[msp_principal_pb2.MSPPrincipal] = []

    def rule(g: Gate) -> policies_pb2.SignaturePolicy:
        nested = {i: rule(r) for i, r in enumerate(g.rules) if isinstance(r, Gate)}
        rules: list[policies_pb2.SignaturePolicy] = []
        for i, r in enumerate(g.rules):
            if isinstance(r, Gate):
                rules.append(nested[i])
                continue
            role = MSPRole(msp_identifier=r.msp_id, role=int(r.role))
            principals.append(
                MSPPrincipal(
                    principal_classification=MSPPrincipal.ROLE,
                    principal=role.SerializeToString(),
                )
            )
            rules.append(SignaturePolicy(signed_by=len(principals) - 1))
        return SignaturePolicy(n_out_of=SignaturePolicy.NOutOf(n=g.t, rules=rules))

    top = rule(gate)
    return SignaturePolicyEnvelope(version=0, rule=top, identities=principals)


def policy_from_string(text: str) -> policies_pb2.SignaturePolicyEnvelope:
    return compile_policy(parse_policy(text))


# --- evaluation ---------------------------------------------------------------------

_Rule = Callable[[Sequence[Identity], list[bool]], bool]


def _principal(p: msp_principal_pb2.MSPPrincipal, index: int) -> Principal:
    if p.principal_classification != MSPPrincipal.ROLE:
        raise PolicyError(
            f"identity {index}: only ROLE principals are supported, not "
            f"{MSPPrincipal.Classification.Name(p.principal_classification)}"
        )
    try:
        role = MSPRole.FromString(p.principal)
    except DecodeError as exc:
        raise PolicyError(f"identity {index}: the principal is not an MSPRole: {exc}") from None
    try:
        return Principal(role.msp_identifier, Role(role.role))
    except ValueError:
        raise PolicyError(f"identity {index}: unknown role {role.role}") from None


def satisfies(identity: Identity, principal: Principal) -> bool:
    """Fabric's ``SatisfiesPrincipal`` for a ROLE principal, NodeOUs enabled."""
    if identity.msp_id != principal.msp_id:
        return False
    return principal.role == Role.MEMBER or identity.role == principal.role


def _compile_rule(rule: policies_pb2.SignaturePolicy, principals: Sequence[Principal]) -> _Rule:
    which = rule.WhichOneof("Type")
    if which == "n_out_of":
        subrules = [_compile_rule(r, principals) for r in rule.n_out_of.rules]
        t = rule.n_out_of.n

        def n_out_of(signers: Sequence[Identity], used: list[bool]) -> bool:
            held = 0
            for sub in subrules:
                trial = list(used)
                if sub(signers, trial):
                    held += 1
                    used[:] = trial
            return held >= t

        return n_out_of
    if which == "signed_by":
        index = rule.signed_by
        if not 0 <= index < len(principals):
            raise PolicyError(
                f"identity index out of range: SignedBy({index}) with {len(principals)} identities"
            )
        principal = principals[index]

        def signed_by(signers: Sequence[Identity], used: list[bool]) -> bool:
            for i, signer in enumerate(signers):
                if not used[i] and satisfies(signer, principal):
                    used[i] = True
                    return True
            return False

        return signed_by
    raise PolicyError("empty policy element (neither signed_by nor n_out_of)")


def deduplicate(identities: Sequence[Identity]) -> list[Identity]:
    """First occurrence of each (MSP ID, certificate): Fabric's ``deduplicate``."""
    seen: set[tuple[str, bytes]] = set()
    out: list[Identity] = []
    for identity in identities:
        key = (identity.msp_id, identity.fingerprint)
        if key not in seen:
            seen.add(key)
            out.append(identity)
    return out


def evaluate_policy(
    envelope: policies_pb2.SignaturePolicyEnvelope, signers: Sequence[Identity]
) -> bool:
    """Whether verified ``signers`` satisfy the envelope; ``PolicyError`` if unusable."""
    if envelope.version != 0:
        raise PolicyError(f"only version 0 envelopes are understood, not {envelope.version}")
    principals = [_principal(p, i) for i, p in enumerate(envelope.identities)]
    if not envelope.HasField("rule"):
        raise PolicyError("the envelope has no rule")
    rule = _compile_rule(envelope.rule, principals)
    unique = deduplicate(signers)
    return rule(unique, [False] * len(unique))
