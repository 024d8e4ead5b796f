"""What the SDK and the EVM client take from an application developer: accounts in the
forms web3 users hold them, service IDs as tools print them, ABI-encoded args."""

from __future__ import annotations

import httpx
import pytest
from eth_abi import encode as abi_encode
from eth_account import Account as EthAccount

from adapters.evm.client import EvmCaller, EvmSender
from adapters.evm.rpc import EthRpc
from relay.crypto import Account, as_account
from relay.errors import RelayError
from relay.sdk import RelayClient
from relay.sdk.call import check_call
from relay.sdk.ids import canonical_ibtp_id, canonical_service_id

SECRET = "0x" + "4c" * 32
ADDRESS = Account.from_key(SECRET).address
CHECKSUMMED = EthAccount.from_key(SECRET).address


def test_accounts_in_every_form_web3_users_hold_them() -> None:
    assert CHECKSUMMED != ADDRESS and CHECKSUMMED.lower() == ADDRESS
    forms = [
        Account.from_key(SECRET),
        EthAccount.from_key(SECRET),  # a LocalAccount: .key is HexBytes
        SECRET,
        SECRET[2:],
        bytes.fromhex(SECRET[2:]),
    ]
    for form in forms:
        assert as_account(form).address == ADDRESS, form


@pytest.mark.parametrize("bad", [42, None, object(), ["0x00"]])
def test_a_non_account_is_refused_with_what_to_pass(bad: object) -> None:
    with pytest.raises(TypeError, match=r"eth_account account .* 0x-hex private key"):
        as_account(bad)


@pytest.mark.parametrize("bad", ["0x1234", "zz" * 32, b"\x01" * 31, b"\x00" * 32])
def test_a_malformed_key_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="key"):
        as_account(bad)


def test_evm_client_and_relay_client_take_eth_account_and_hex_keys() -> None:
    caller = EvmCaller("http://127.0.0.1:1", EthAccount.from_key(SECRET), "0xAB" * 10, "hub0", "c")
    assert caller.service_id == f"hub0:c:{ADDRESS}"
    assert caller.account.address == ADDRESS and caller.broker == ("0xab" * 10)
    assert EvmSender(EthRpc("http://127.0.0.1:1"), SECRET).address == ADDRESS
    with RelayClient("http://127.0.0.1:1", EthAccount.from_key(SECRET)) as c:
        assert c.account is not None and c.account.address == ADDRESS
    with pytest.raises(TypeError):
        RelayClient("http://127.0.0.1:1", 7)  # type: ignore[arg-type]


def test_only_an_evm_address_service_part_is_lowercased() -> None:
    assert canonical_service_id(f"hub0:chainB:{CHECKSUMMED}") == f"hub0:chainB:{ADDRESS}"
    # Family-neutral: other service parts (a chaincode name, a short hex) are kept.
    for kept in ("hub0:fab:MyChaincode", "hub0:chainB:0xABC", "Hub0:ChainB:svc", "not-an-id"):
        assert canonical_service_id(kept) == kept
    # Hub and chain IDs are case-sensitive and kept.
    assert canonical_service_id(f"Hub0:ChainB:{CHECKSUMMED}") == f"Hub0:ChainB:{ADDRESS}"
    ibtp = f"hub0:a:{CHECKSUMMED}~hub0:b:{CHECKSUMMED}~7"
    assert canonical_ibtp_id(ibtp) == f"hub0:a:{ADDRESS}~hub0:b:{ADDRESS}~7"


class _Connector:
    service_id = f"hub0:chainA:{ADDRESS}"

    async def emit(
        self, dst_service: str, func: str, args: list[bytes], timeout: int
    ) -> tuple[str, str, int]:
        raise AssertionError("check_call never emits")


def test_call_canonicalises_ids_and_wants_abi_encoded_args() -> None:
    arg = abi_encode(["string"], ["price"])
    src, dst, args = check_call(
        _Connector(), f"hub0:chainA:{CHECKSUMMED}", f"hub0:chainB:{CHECKSUMMED}", [arg], 0
    )
    assert (src, dst, args) == (f"hub0:chainA:{ADDRESS}", f"hub0:chainB:{ADDRESS}", [arg])
    for bad in (["price"], "price", b"price", [arg, 5]):
        with pytest.raises(TypeError, match=r"ABI-encoded.*eth_abi"):
            check_call(_Connector(), _Connector.service_id, "hub0:chainB:svc", bad, 0)
    with pytest.raises(RelayError, match="connector calls from"):
        check_call(_Connector(), "hub0:chainA:someone-else", "hub0:chainB:svc", [arg], 0)
    for blocks in (1, 2):
        with pytest.raises(RelayError) as err:
            check_call(_Connector(), _Connector.service_id, "hub0:chainB:svc", [arg], blocks)
        assert err.value.code == 4003


def test_lookups_send_the_canonical_ids() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path.decode())
        return httpx.Response(404, json={"code": 1, "message": "no"})

    with RelayClient("http://relay.test", transport=httpx.MockTransport(handler)) as c:
        for lookup in (
            lambda: c.service(f"hub0:b:{CHECKSUMMED}"),
            lambda: c.pair(f"hub0:a:{CHECKSUMMED}", f"hub0:b:{CHECKSUMMED}"),
            lambda: c.ibtp_status(f"hub0:a:{CHECKSUMMED}~hub0:b:{CHECKSUMMED}~1"),
        ):
            with pytest.raises(RelayError):
                lookup()
    assert paths and all(CHECKSUMMED not in p and ADDRESS in p for p in paths), paths
