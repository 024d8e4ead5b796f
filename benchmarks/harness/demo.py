"""``relayhub demo`` and ``relayhub up``: the embedded default topology.

``demo`` starts a solo relay, three EVM dev chains (chainA, chainB, and chainC
whose gateway is deliberately not running), a Fabric dev chain chainF, a FISCO BCOS-like
dev chain chainS, a gateway for A, B, F and S, registers everything, and runs eleven
interchain calls:

1. an asset transfer A → B                          → SUCCESS
2. a data swap: A reads a value stored on B          → SUCCESS (value delivered)
3. a transfer above B's mint cap (B reverts)         → FAILURE, A's lock returned
4. a transfer to C, whose gateway is down            → timeout: A keeps the lock until
   C's broker gives the call up and C's gateway reports it → ROLLBACK on A
5. a hostile mint: an account on A sends ``mint`` to B's AssetTransfer through the
   SDK                                               → FAILURE, B refuses the caller
6. an asset transfer A → F (EVM → Fabric)            → SUCCESS
7. an asset transfer F → B (Fabric → EVM)            → SUCCESS
8. a hostile mint from a Fabric client on F to B     → FAILURE, B refuses the caller
9. an asset transfer A → S (EVM → FISCO)             → SUCCESS
10. an asset transfer S → F (FISCO → Fabric)         → SUCCESS
11. a hostile mint from a FISCO account on S to B    → FAILURE, B refuses the caller

For calls 5, 8 and 11 to reach B at all, the demo registers AssetTransfer on the relay open
to every caller (``relay_allow_lists=False``): the service's own counterpart
check is what refuses it, as it must on a hub whose allow list is wrong.

It prints a table (path, outcome, relay heights, time), checks that token supply
is conserved across the chains, and exits 0 — or 1 if any outcome differs.

``up`` starts the same topology (all gateways running, the relay's allow lists in
place) as a development environment: it writes one JSON document to stdout (and to
``DIR/up.json``) with the relay, the relay directory and admin key, and per chain its
endpoints, services and funded dev accounts with their private keys; prose goes to
stderr. It runs until Ctrl-C / SIGTERM (exit 0); started again on the same ``--dir``
it resumes where it stopped. docs/sdk.md is written against it.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio
from eth_abi import encode as abi_encode
from rich.console import Console
from rich.table import Table

from appchains.evm.devchain.config import ConfigError
from benchmarks.harness.topology import HUB_ID, Topology, open_topology, start_gateway
from relay.cli import ADMIN_KEY, GENESIS_FILE
from relay.errors import Code, RelayError
from relay.ibtp import TxStatus
from relay.sdk import InterchainFailed, InterchainRolledBack
from relay.sdk.types import IbtpStatus

CHAINS = ("chainA", "chainB", "chainC", "chainF", "chainS")
#: chainF is a Fabric chain (two orgs, a solo orderer, the broker set), chainS a FISCO
#: BCOS-like chain (4 PBFT sealers, secp256k1); the others EVM.
FAMILIES = {"chainF": "fabric", "chainS": "fisco"}
#: The relay port ``relayhub up`` serves on unless told otherwise (as ``relay init`` does).
DEFAULT_PORT = 8710
#: ``relayhub up`` sets this key in every chain's DataSwap, to a value naming the chain,
#: so a first interchain call has something to read (docs/sdk.md, README).
GREETING_KEY = "greeting"
ENV_FILE = "up.json"


@dataclass
class Outcome:
    title: str
    path: str
    expected: TxStatus
    status: IbtpStatus
    seconds: float
    note: str = ""
    check: bool = True  # a further condition of the outcome (e.g. nothing minted)

    @property
    def ok(self) -> bool:
        return self.status.status == self.expected and self.check


def _heights(st: IbtpStatus) -> str:
    return " → ".join(f"{s.name}@{h}" for s, h in st.history)


async def _wait(topo: Topology, ibtp_id: str, timeout: float) -> IbtpStatus:
    async with topo.client() as c:
        return await c.wait_final(ibtp_id, timeout=timeout)


async def _wait_status(topo: Topology, ibtp_id: str, want: TxStatus, timeout: float) -> None:
    """Wait (bounded) until the relay records ``ibtp_id`` in status ``want``."""
    with trio.fail_after(timeout):
        async with topo.client() as c:
            while True:
                try:
                    if (await c.ibtp_status(ibtp_id)).status == want:
                        return
                except RelayError as err:
                    if err.code != Code.UNKNOWN_IBTP:  # not submitted yet: wait
                        raise
                await trio.sleep(0.05)


async def _balance_settles(topo: Topology, chain: str, owner: str, want: int) -> int:
    """The source applies a receipt after the relay records it: wait (bounded) for it."""
    got = await topo.balance(chain, owner)
    with trio.move_on_after(10):
        while got != want:
            await trio.sleep(0.05)
            got = await topo.balance(chain, owner)
    return got


async def run_scenario(topo: Topology, console: Console) -> list[Outcome]:
    a, b = topo.chains["chainA"], topo.chains["chainB"]
    alice, bob = a.users[0].address, b.users[0].address
    out: list[Outcome] = []

    console.print("[bold]1. asset transfer[/] 25 tokens chainA → chainB")
    bob_before = await topo.balance("chainB", bob)
    t0 = time.monotonic()
    (tid,) = await topo.transfer_many("chainA", "chainB", [25])
    st = await _wait(topo, tid, 30)
    bob_after = await _balance_settles(topo, "chainB", bob, bob_before + 25)
    out.append(
        Outcome(
            "asset transfer",
            "chainA → chainB",
            TxStatus.SUCCESS,
            st,
            time.monotonic() - t0,
            f"B credited {bob_after - bob_before}",
        )
    )

    console.print("[bold]2. data swap[/] chainA reads key 'price' from chainB")
    await topo.data_set("chainB", "price", b"42 EUR")
    t0 = time.monotonic()
    did = await topo.data_get("chainA", "chainB", "price")
    st = await _wait(topo, did, 30)
    value = await topo.fetched("chainA", "chainB", "price")
    out.append(
        Outcome(
            "data swap",
            "chainA → chainB",
            TxStatus.SUCCESS,
            st,
            time.monotonic() - t0,
            f"A received {value.decode(errors='replace')!r}",
        )
    )

    console.print("[bold]3. failing call[/] transfer above chainB's mint cap")
    before = await topo.balance("chainA", alice)
    t0 = time.monotonic()
    (fid,) = await topo.transfer_many("chainA", "chainB", [5_000_000])
    st = await _wait(topo, fid, 30)
    after = await _balance_settles(topo, "chainA", alice, before)
    out.append(
        Outcome(
            "transfer over cap",
            "chainA → chainB",
            TxStatus.FAILURE,
            st,
            time.monotonic() - t0,
            "lock returned" if after == before else f"balance {before} → {after}",
        )
    )

    console.print(
        "[bold]4. timeout[/] transfer to chainC, whose gateway is down: the relay asks "
        "chainC to give it up first, and chainA keeps the lock until chainC confirms"
    )
    async with topo.client() as c:
        height = (await c.status())["height"]
    before = await topo.balance("chainA", alice)
    t0 = time.monotonic()
    (xid,) = await topo.transfer_many("chainA", "chainC", [10], timeout=height + 12)
    await _wait_status(topo, xid, TxStatus.BEGIN_ROLLBACK, 45)
    locked = await topo.balance("chainA", alice)
    console.print(
        "   timed out; chainA still holds the lock. chainC gives the call up (the relay's "
        "notice reaches its broker before the request) and its gateway starts…"
    )
    await topo.deliver_notice("chainC", xid)
    async with start_gateway(topo, "chainC"):
        st = await _wait(topo, xid, 45)
        after = await _balance_settles(topo, "chainA", alice, before)
    ok = after == before and locked == before - 10
    out.append(
        Outcome(
            "timeout",
            "chainA → chainC",
            TxStatus.ROLLBACK,
            st,
            time.monotonic() - t0,
            "given up on C, then rolled back on A"
            if ok
            else f"balance {before} → {locked} → {after}",
            check=ok,
        )
    )

    console.print("[bold]5. hostile mint[/] an account on chainA asks chainB to mint 500000")
    out.append(await hostile_mint(topo, "chainA", "chainB"))

    console.print("[bold]6. asset transfer[/] 30 tokens chainA (EVM) → chainF (Fabric)")
    out.append(await transfer(topo, "chainA", "chainF", 30))
    console.print("[bold]7. asset transfer[/] 12 tokens chainF (Fabric) → chainB (EVM)")
    out.append(await transfer(topo, "chainF", "chainB", 12, user=1, to_user=0))
    console.print("[bold]8. hostile mint[/] a Fabric client on chainF asks chainB to mint 500000")
    out.append(await hostile_mint(topo, "chainF", "chainB"))
    console.print("[bold]9. asset transfer[/] 25 tokens chainA (EVM) → chainS (FISCO)")
    out.append(await transfer(topo, "chainA", "chainS", 25))
    console.print("[bold]10. asset transfer[/] 7 tokens chainS (FISCO) → chainF (Fabric)")
    out.append(await transfer(topo, "chainS", "chainF", 7, user=1))
    console.print("[bold]11. hostile mint[/] a FISCO account on chainS asks chainB to mint 500000")
    out.append(await hostile_mint(topo, "chainS", "chainB"))
    return out


async def transfer(
    topo: Topology, src: str, dst: str, amount: int, *, user: int = 0, to_user: int = 1
) -> Outcome:
    """An asset transfer of ``amount`` from ``src``'s ``users[user]`` to ``dst``'s
    ``users[to_user]``: SUCCESS, and the recipient credited."""
    recipient = topo.chains[dst].users[to_user].address
    before = await topo.balance(dst, recipient)
    t0 = time.monotonic()
    (tid,) = await topo.transfer_many(src, dst, [amount], user=user, recipient=recipient)
    st = await _wait(topo, tid, 30)
    after = await _balance_settles(topo, dst, recipient, before + amount)
    return Outcome(
        "asset transfer",
        f"{src} → {dst}",
        TxStatus.SUCCESS,
        st,
        time.monotonic() - t0,
        f"{dst.removeprefix('chain')} credited {after - before}",
    )


async def hostile_mint(topo: Topology, src: str, dst: str) -> Outcome:
    """An account on ``src`` calls the SDK to send ``mint`` to ``dst``'s AssetTransfer: the
    relay proof is genuine, the service refuses the caller (not a counterpart), nothing
    is minted."""
    b = topo.chains[dst]
    caller = topo.caller(src, user=2)
    eoa = topo.chains[src].users[2].address
    supply_b = await topo.total_supply(dst)
    mint = abi_encode(["address", "uint256"], [eoa, 500_000])
    t0 = time.monotonic()
    async with topo.client() as client:
        try:
            got = await client.call(
                caller.service_id, b.service_id(b.asset), "mint", [mint], via=caller, timeout=30
            )
            st, reason = got.status, "minted!"
        except (InterchainFailed, InterchainRolledBack) as exc:
            st = await client.ibtp_status(exc.details["ibtp_id"])
            reason = str(exc.details.get("reason", "not routed"))
    minted = await topo.total_supply(dst) - supply_b
    minted += await topo.balance(dst, eoa)
    return Outcome(
        "hostile mint",
        f"account@{src} → {dst}",
        TxStatus.FAILURE,
        st,
        time.monotonic() - t0,
        f"refused: {reason!r}; minted {minted}",
        check=minted == 0,
    )


def render(outcomes: list[Outcome], console: Console) -> None:
    table = Table(title="interchain calls")
    for col in ("#", "call", "path", "outcome", "relay heights", "time", "note"):
        table.add_column(col)
    for i, o in enumerate(outcomes, 1):
        if o.ok:
            mark = "[green]✓[/]"
        elif o.status.status == o.expected:
            mark = "[red]✗ see note[/]"
        else:
            mark = f"[red]✗ expected {o.expected.name}[/]"
        table.add_row(
            str(i),
            o.title,
            o.path,
            f"{o.status.status.name} {mark}",
            _heights(o.status),
            f"{o.seconds:.2f}s",
            o.note,
        )
    console.print(table)


async def demo(workdir: Path, console: Console, stop: trio.CancelScope) -> int:
    t0 = time.monotonic()
    console.print(
        "starting a relay, three EVM dev chains (gateways for chainA and chainB) and a "
        "Fabric dev chain chainF and a FISCO dev chain chainS (with their gateways)…"
    )
    async with open_topology(
        workdir,
        CHAINS,
        without_gateway=("chainC",),
        relay_allow_lists=False,
        families=FAMILIES,
    ) as topo:
        with stop:
            supply_before = sum([await topo.total_supply(c) for c in CHAINS])
            console.print(
                f"relay {topo.relay_url}; chains registered and approved; each AssetTransfer "
                "accepts only the other chains' AssetTransfer (the relay's allow list is left "
                "open so that call 5 reaches the service)"
            )
            outcomes = await run_scenario(topo, console)
            render(outcomes, console)
            supply_after = sum([await topo.total_supply(c) for c in CHAINS])
            conserved = supply_before == supply_after
            console.print(
                f"token supply across chains: {supply_before} before, {supply_after} after "
                + ("[green](conserved)[/]" if conserved else "[red](NOT conserved)[/]")
            )
            async with topo.client() as c:
                st = await c.status()
            console.print(f"relay height {st['height']}; demo took {time.monotonic() - t0:.1f}s")
            return 0 if all(o.ok for o in outcomes) and conserved else 1
    return 0  # interrupted


def environment(topo: Topology) -> dict[str, Any]:
    """What ``relayhub up`` prints: everything an SDK script needs to act."""
    relay_dir = (topo.workdir / "relay").resolve()
    chains: dict[str, Any] = {}
    for name, c in topo.chains.items():
        chains[name] = {
            "chain_id": name,
            "family": c.family,
            "rpc": c.rpc_url,
            "broker": c.broker,
            "asset_transfer": c.service_id(c.asset),
            "asset_transfer_address": c.asset,
            "data_swap": c.service_id(c.data_swap),
            "data_swap_address": c.data_swap,
            # The family's own: how to reach it, and funded accounts (AssetTransfer tokens,
            # ether on EVM chains) no gateway sends from; the first owns the services.
            **topo.driver(name).describe(),
        }
    return {
        "relay": topo.relay_url,
        "hub": HUB_ID,
        "relay_dir": str(relay_dir),
        "genesis": str(relay_dir / GENESIS_FILE),
        "admin_key": str(relay_dir / ADMIN_KEY),
        "admin": topo.admin.address,
        "greeting_key": GREETING_KEY,
        "chains": chains,
    }


async def up(workdir: Path, port: int, console: Console, stop: trio.CancelScope) -> int:
    console.print(f"starting relayhub up in {workdir} (relay port {port})…")
    async with open_topology(workdir, CHAINS, relay_port=port, families=FAMILIES) as topo:
        with stop:
            for name in topo.chains:
                await topo.data_set(name, GREETING_KEY, f"hello from {name}".encode())
            doc = json.dumps(environment(topo), indent=2) + "\n"
            (workdir / ENV_FILE).write_text(doc)
            sys.stdout.write(doc)
            sys.stdout.flush()
            console.print(
                f"relayhub up: relay {topo.relay_url}, chains {', '.join(topo.chains)}; the "
                f"document above is also in {workdir / ENV_FILE}. Ctrl-C to stop."
            )
            await trio.sleep_forever()
    return 0


async def until_signal(body: Callable[[trio.CancelScope], Awaitable[int]], console: Console) -> int:
    """Run ``body(stop)``; SIGINT / SIGTERM cancel ``stop`` (the body enters it where it
    may be interrupted, inside its resources, so they close normally) and make it 0."""
    stop = trio.CancelScope()
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                async for signum in signals:
                    console.print(f"{signal.Signals(signum).name}: stopping…")
                    stop.cancel()
                    return

            nursery.start_soon(watch)
            result = await body(stop)
            nursery.cancel_scope.cancel()
    if stop.cancel_called:
        console.print("stopped")
        return 0
    return result


def _one_error(exc: BaseException) -> BaseException:
    """The one leaf of a (nested) exception group, or ``exc`` itself."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def main(argv: list[str] | None = None, *, command: str = "demo") -> int:
    p = argparse.ArgumentParser(prog=f"relayhub {command}")
    p.add_argument(
        "--dir",
        type=Path,
        help="working directory (default: a fresh temp dir)"
        + ("; an existing one is resumed" if command == "up" else ""),
    )
    if command == "up":
        p.add_argument(
            "--port",
            type=int,
            default=DEFAULT_PORT,
            help=f"relay API port on 127.0.0.1 (default {DEFAULT_PORT}; 0 = any free port)",
        )
    p.add_argument("-v", "--verbose", action="store_true", help="log what gateways do")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    workdir = args.dir or Path(tempfile.mkdtemp(prefix=f"relayhub-{command}-"))
    try:
        if command == "up":
            console = Console(stderr=True)
            return trio.run(
                until_signal, lambda stop: up(workdir, args.port, console, stop), console
            )
        console = Console(width=None if sys.stdout.isatty() else 140)
        return trio.run(until_signal, lambda stop: demo(workdir, console, stop), console)
    except BaseException as exc:
        err = _one_error(exc)
        if isinstance(err, KeyboardInterrupt):  # before the signal handler was in place
            return 0
        if isinstance(err, RelayError):
            print(f"error [{int(err.code)}]: {err.message}", file=sys.stderr)
        elif isinstance(err, ConfigError):
            print(f"error [{int(Code.CONFIG)}]: {workdir}: {err}", file=sys.stderr)
        elif isinstance(err, OSError) and command == "up":
            why = err.strerror or str(err)
            print(
                f"error [{int(Code.CONFIG)}]: cannot serve on 127.0.0.1:{args.port} ({why}); "
                "pass another --port",
                file=sys.stderr,
            )
        else:
            raise
        return 2


def up_main(argv: list[str] | None = None) -> int:
    return main(argv, command="up")


if __name__ == "__main__":
    sys.exit(main())
