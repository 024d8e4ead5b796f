"""Keys and genesis of a dev chain, derived from its config and seed (pure).

Every key is ``keccak256("relayhub.devchain.key.v1|" ‖ seed ‖ "|" ‖ role ‖ "|" ‖ i)``
(re-hashed with a counter in the negligible case it is not a valid secp256k1
key), for the roles ``validator``, ``account`` and ``relay``. The same config and
seed give the same keys, addresses and genesis block. These keys are for
demos and tests only.
"""

from __future__ import annotations

from dataclasses import dataclass

from coincurve import PrivateKey

from appchains.evm.devchain.broker import Broker
from appchains.evm.devchain.chain import ChainParams, ChainState, make_genesis
from appchains.evm.devchain.config import DevchainConfig
from appchains.evm.devchain.crypto import SECP256K1_N, address_of_key, keccak, parse_address
from appchains.evm.devchain.services import AssetTransfer, DataSwap

KEY_DOMAIN = b"relayhub.devchain.key.v1"


def derive_key(seed: str, role: str, index: int) -> PrivateKey:
    material = b"|".join([KEY_DOMAIN, seed.encode(), role.encode(), str(index).encode()])
    secret = keccak(material)
    while not 0 < int.from_bytes(secret, "big") < SECP256K1_N:
        secret = keccak(secret)
    return PrivateKey(secret)


@dataclass(frozen=True, slots=True)
class DevchainSetup:
    """Everything genesis is made of, resolved from a config and a seed."""

    config: DevchainConfig
    seed: str
    validator_keys: tuple[PrivateKey, ...]
    account_keys: tuple[PrivateKey, ...]
    relay_keys: tuple[PrivateKey, ...]  # empty when relay validators were configured
    relay_validators: tuple[bytes, ...]
    broker: bytes
    asset_transfer: bytes
    data_swap: bytes
    service_owner: bytes  # AssetTransfer's owner: config.service_owner, else dev account 0

    @property
    def validators(self) -> tuple[bytes, ...]:
        return tuple(address_of_key(k) for k in self.validator_keys)

    @property
    def accounts(self) -> tuple[bytes, ...]:
        return tuple(address_of_key(k) for k in self.account_keys)

    @property
    def sealing_keys(self) -> tuple[PrivateKey, ...]:
        count = self.config.sealers or len(self.validator_keys)
        return self.validator_keys[:count]


def make_setup(config: DevchainConfig, seed: str) -> DevchainSetup:
    config.check()
    validator_keys = tuple(derive_key(seed, "validator", i) for i in range(config.validators))
    account_keys = tuple(derive_key(seed, "account", i) for i in range(config.accounts))
    if config.relay_validators:
        relay_keys: tuple[PrivateKey, ...] = ()
        relay = tuple(parse_address(a) for a in config.relay_validators)
    else:
        relay_keys = tuple(derive_key(seed, "relay", i) for i in range(config.relay_dev_keys))
        relay = tuple(address_of_key(k) for k in relay_keys)
    return DevchainSetup(
        config=config,
        seed=seed,
        validator_keys=validator_keys,
        account_keys=account_keys,
        relay_keys=relay_keys,
        relay_validators=relay,
        broker=parse_address(config.broker_address),
        asset_transfer=parse_address(config.asset_transfer_address),
        data_swap=parse_address(config.data_swap_address),
        service_owner=(
            parse_address(config.service_owner)
            if config.service_owner
            else address_of_key(account_keys[0])
        ),
    )


def build_genesis(setup: DevchainSetup) -> ChainState:
    config = setup.config
    params = ChainParams(
        chain_id=config.chain_id,
        gas_limit=config.gas_limit,
        base_fee=config.base_fee,
        validators=setup.validators,
    )
    accounts = setup.accounts
    contracts = [
        Broker(
            setup.broker,
            config.hub_id,
            config.chain_name,
            setup.relay_validators,
            config.relay_threshold,
        ),
        AssetTransfer(
            setup.asset_transfer,
            setup.broker,
            config.mint_cap,
            {a: config.token_balance for a in accounts},
            setup.service_owner,
        ),
        DataSwap(setup.data_swap, setup.broker),
    ]
    balances = {a: config.account_balance for a in accounts}
    return make_genesis(params, balances, contracts, config.genesis_timestamp)
