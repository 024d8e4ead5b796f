// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.26;

import {IInterchainService} from "./IInterchainService.sol";

/// Test-only service whose call costs a lot of gas but little time:
/// `burn(abi.encode(uint256 size))` allocates `size` bytes of memory, whose expansion
/// cost grows with the square of the size. Used to check that a delivery given too
/// little gas reverts as a whole instead of recording the starved call as the
/// service's failure.
contract GasHungry is IInterchainService {
    address public immutable broker;
    uint256 public calls;

    constructor(address broker_) {
        broker = broker_;
    }

    function onInterchain(string calldata, uint64, string calldata, bytes[] calldata args)
        external
        returns (bytes memory)
    {
        require(msg.sender == broker, "hungry: only the broker");
        uint256 size = abi.decode(args[0], (uint256));
        bytes memory pad = new bytes(size);
        calls += 1;
        return abi.encode(pad.length);
    }

    function onCallback(string calldata, uint64, bool, bytes calldata) external {}

    function onRollback(string calldata, uint64) external {}
}
