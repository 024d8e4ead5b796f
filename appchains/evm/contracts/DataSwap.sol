// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.26;

import {IInterchainBroker, IInterchainService} from "./IInterchainService.sol";

/// @title Example service: read a key from a DataSwap on another chain.
/// @notice `get` asks the destination for `key`; the destination answers with its value
/// (or reverts when it has none); the source's callback stores the answer under
/// `(toService, key)`, readable with `fetched` (docs/broker.md).
///
/// Who it serves: **any** caller. `onInterchain` answers `get` for every source
/// service, because the answer is a read that changes nothing: it is `view`, it returns
/// a value anyone can already read with `valueOf` (and anyone may `set`), and a refused
/// or failed call costs the asker only its own request. A service whose answer moves
/// value or changes state must instead check `from` against an owner-managed list, as
/// AssetTransfer does. On the source side, `onCallback` stores only answers to this
/// service's own `get` calls: the broker calls it only for requests this contract sent.
contract DataSwap is IInterchainService {
    address public immutable broker;

    mapping(bytes32 => bytes) private _values;
    mapping(bytes32 => bool) private _known;
    // keccak256(toService) => index => the key asked for.
    mapping(bytes32 => mapping(uint64 => string)) private _pending;
    // keccak256(abi.encode(toService, key)) => the value received.
    mapping(bytes32 => bytes) private _fetched;

    event ValueSet(string key, bytes value);
    event ValueFetched(string toService, string key, bytes value);

    modifier onlyBroker() {
        require(msg.sender == broker, "dataswap: only the broker");
        _;
    }

    constructor(address broker_) {
        broker = broker_;
    }

    function set(string calldata key, bytes calldata value) external {
        bytes32 k = keccak256(bytes(key));
        _values[k] = value;
        _known[k] = true;
        emit ValueSet(key, value);
    }

    /// The local value of `key` and whether it was set.
    function valueOf(string calldata key) external view returns (bool found, bytes memory value) {
        bytes32 k = keccak256(bytes(key));
        return (_known[k], _values[k]);
    }

    function get(string calldata toService, string calldata key, uint64 timeout) external returns (uint64 index) {
        bytes[] memory args = new bytes[](1);
        args[0] = abi.encode(key);
        index = IInterchainBroker(broker).emitInterchain(toService, "get", args, timeout);
        _pending[keccak256(bytes(toService))][index] = key;
    }

    function fetched(string calldata toService, string calldata key) external view returns (bytes memory) {
        return _fetched[keccak256(abi.encode(toService, key))];
    }

    function onInterchain(string calldata, uint64, string calldata func, bytes[] calldata args)
        external
        view
        onlyBroker
        returns (bytes memory)
    {
        require(keccak256(bytes(func)) == keccak256("get"), "dataswap: unknown function");
        require(args.length == 1, "dataswap: get takes one argument");
        bytes32 k = keccak256(bytes(abi.decode(args[0], (string))));
        require(_known[k], "dataswap: unknown key");
        return _values[k];
    }

    function onCallback(string calldata to, uint64 index, bool ok, bytes calldata result) external onlyBroker {
        bytes32 t = keccak256(bytes(to));
        string memory key = _pending[t][index];
        delete _pending[t][index];
        if (ok) {
            _fetched[keccak256(abi.encode(to, key))] = result;
            emit ValueFetched(to, key, result);
        }
    }

    function onRollback(string calldata to, uint64 index) external onlyBroker {
        delete _pending[keccak256(bytes(to))][index];
    }
}
