// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.26;

/// @title What a service must implement to receive interchain calls through the broker.
/// @notice Only the broker calls these (docs/broker.md, "Service interface").
interface IInterchainService {
    /// Destination side: execute `func(args)` sent by the service `from` as call number `index`.
    /// A revert turns into a RECEIPT_FAILURE carrying the revert reason. What it does is never
    /// undone: a destination has no rollback (a timeout asks it to give up a call it has not
    /// run yet; one it ran settles with its receipt, however late).
    function onInterchain(string calldata from, uint64 index, string calldata func, bytes[] calldata args)
        external
        returns (bytes memory);

    /// Source side: the outcome of call `index` to `to`; `result` is the return data or revert reason.
    function onCallback(string calldata to, uint64 index, bool ok, bytes calldata result) external;

    /// Source side: call `index` to `to` failed or timed out; undo its local effects.
    function onRollback(string calldata to, uint64 index) external;
}

/// @title The part of the broker a local service calls to send an interchain call.
interface IInterchainBroker {
    function emitInterchain(string calldata to, string calldata func, bytes[] calldata args, uint64 timeout)
        external
        returns (uint64 index);
}
