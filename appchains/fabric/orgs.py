"""The network's organisations and identities, derived from a seed, cryptogen-like. Pure.

Org *i* (1-based) is ``Org<i>MSP`` with domain ``org<i>.example.com``: a root CA, its
endorsing peer ``peer0.org<i>.example.com`` (NodeOU peer), a client ``User1@...``
(client) and an admin ``Admin@...`` (admin). The orderer org is ``OrdererMSP``
(``example.com``) with ``orderer.example.com`` (orderer). Every key is
``key_from_seed(f"{seed}/{name}")`` and every certificate starts at
:data:`CERT_EPOCH` with a long lifetime, so one seed always gives the same
certificates (and the same genesis block): a dev chain, never a deployment.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509

from appchains.fabric.ca import OrgCA, SigningIdentity, create_org_ca, issue, key_from_seed

#: 2024-01-01T00:00:00Z: every certificate's notBefore.
CERT_EPOCH = 1_704_067_200
#: 30 years.
CERT_LIFETIME = 30 * 365 * 86400
ORDERER_MSP = "OrdererMSP"
#: Client identities issued per org (``User1@`` .. ``User<n>@``); ``User1`` is the org's
#: ``client``.
USERS_PER_ORG = 3


@dataclass(frozen=True)
class OrgSetup:
    msp_id: str
    domain: str
    ca: OrgCA
    peer: SigningIdentity
    client: SigningIdentity
    admin: SigningIdentity
    #: ``User1@`` .. ``User<USERS_PER_ORG>@``: ``users[0]`` is ``client``.
    users: tuple[SigningIdentity, ...] = ()

    @property
    def peer_name(self) -> str:
        return f"peer0.{self.domain}"


@dataclass(frozen=True)
class NetworkSetup:
    seed: str
    channel_id: str
    orgs: tuple[OrgSetup, ...]
    orderer_ca: OrgCA
    orderer: SigningIdentity

    @property
    def msp_ids(self) -> tuple[str, ...]:
        return tuple(o.msp_id for o in self.orgs)

    @property
    def cas(self) -> dict[str, x509.Certificate]:
        """The application orgs' root CAs, by MSP ID."""
        return {o.msp_id: o.ca.certificate for o in self.orgs}

    @property
    def orderer_cas(self) -> dict[str, x509.Certificate]:
        return {self.orderer_ca.msp_id: self.orderer_ca.certificate}

    @property
    def users(self) -> tuple[SigningIdentity, ...]:
        """Every org's client identities, org by org (``users[0]``: Org1's ``User1``)."""
        return tuple(u for o in self.orgs for u in o.users)

    def org(self, msp_id: str) -> OrgSetup:
        for o in self.orgs:
            if o.msp_id == msp_id:
                return o
        raise KeyError(msp_id)


def make_org(seed: str, n: int) -> OrgSetup:
    msp_id, domain = f"Org{n}MSP", f"org{n}.example.com"
    ca = create_org_ca(
        msp_id,
        domain,
        key=key_from_seed(f"{seed}/ca.{domain}"),
        now=CERT_EPOCH,
        lifetime=CERT_LIFETIME,
    )

    def member(name: str, ou: str) -> SigningIdentity:
        return issue(
            ca,
            name,
            ou,
            key=key_from_seed(f"{seed}/{name}"),
            now=CERT_EPOCH,
            lifetime=CERT_LIFETIME,
        )

    users = tuple(member(f"User{i}@{domain}", "client") for i in range(1, USERS_PER_ORG + 1))
    return OrgSetup(
        msp_id,
        domain,
        ca,
        member(f"peer0.{domain}", "peer"),
        users[0],
        member(f"Admin@{domain}", "admin"),
        users,
    )


def make_setup(seed: str, orgs: int, channel_id: str = "mychannel") -> NetworkSetup:
    if not 1 <= orgs <= 16:
        raise ValueError("a network has 1 to 16 orgs")
    ca = create_org_ca(
        ORDERER_MSP,
        "example.com",
        key=key_from_seed(f"{seed}/ca.example.com"),
        now=CERT_EPOCH,
        lifetime=CERT_LIFETIME,
    )
    orderer = issue(
        ca,
        "orderer.example.com",
        "orderer",
        key=key_from_seed(f"{seed}/orderer.example.com"),
        now=CERT_EPOCH,
        lifetime=CERT_LIFETIME,
    )
    return NetworkSetup(
        seed, channel_id, tuple(make_org(seed, n) for n in range(1, orgs + 1)), ca, orderer
    )
