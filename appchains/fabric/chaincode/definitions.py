"""The broker set as the dev chain's chaincodes (provider
``appchains.fabric.chaincode.definitions:broker_set``, docs/fabric.md §3.2).

``broker`` trusts the relay validators of the chain's configuration; ``asset`` is owned
by the network's first client (Org1's ``User1``), gives every client of the network
:data:`TOKENS_PER_USER` tokens at genesis and mints at most :data:`MINT_CAP` per call
(the EVM dev chain's ``token_balance`` and ``mint_cap``); ``dataswap`` starts empty.
All three take the channel's default endorsement policy (a majority of the orgs'
peers). Pure.
"""

from __future__ import annotations

from appchains.fabric.registry import ChaincodeContext, ChaincodeDefinition

from .asset import AssetChaincode
from .broker import BrokerChaincode
from .codec import account_of
from .dataswap import DataSwapChaincode

TOKENS_PER_USER = 10**9
MINT_CAP = 10**6


def broker_set(context: ChaincodeContext) -> list[ChaincodeDefinition]:
    if not context.relay_validators:
        raise ValueError(
            "the broker chaincode needs the relay validators it trusts: give "
            "relay_validators (--relay-validators 0x...)"
        )
    if not context.users:
        raise ValueError("the asset chaincode needs the network's client identities")
    validators = [bytes.fromhex(v.removeprefix("0x")) for v in context.relay_validators]
    accounts = [account_of(u) for u in context.users]
    return [
        ChaincodeDefinition(
            BrokerChaincode(context.hub_id, context.chain_id, validators, context.relay_threshold)
        ),
        ChaincodeDefinition(
            AssetChaincode(
                owner=accounts[0],
                mint_cap=MINT_CAP,
                holders={a: TOKENS_PER_USER for a in accounts},
            )
        ),
        ChaincodeDefinition(DataSwapChaincode()),
    ]
