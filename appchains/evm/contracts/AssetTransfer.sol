// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.26;

import {IInterchainBroker, IInterchainService} from "./IInterchainService.sol";

/// @title Example service: move a token between chains by lock / mint / burn.
/// @notice The source locks the sender's amount and asks the destination to mint it.
/// On success the source burns the locked amount; on failure, or on a timeout that the
/// destination confirmed before minting, it returns it. A mint is never undone: once the
/// destination minted, the transfer succeeds, however late its receipt. Summed over
/// chains, `totalSupply` is conserved once every transfer is final (docs/broker.md).
///
/// Who may mint: only the registered **counterparts**, the AssetTransfer services on
/// other chains that the owner (the deployer) lists with `setCounterpart`. `from` in
/// `onInterchain` is the full service ID the relay verified on the source chain; a call
/// from any other service (an account calling the broker directly, another contract)
/// reverts with "asset: source is not a counterpart", which the broker records as a
/// RECEIPT_FAILURE. `transfer` only sends to a counterpart too, so a lock is never
/// burned on the word of a service that is not trusted to mint. Supply is conserved
/// whatever other services send, as long as every counterpart runs this code.
/// Removing a counterpart refuses its new mints; calls already sent to it still settle
/// (callbacks and rollbacks act only on recorded locks).
contract AssetTransfer is IInterchainService {
    address public immutable broker;
    uint256 public immutable mintCap;
    /// May change the counterpart list; the deployer.
    address public immutable owner;

    uint256 public totalSupply;
    uint256 public totalLocked;
    mapping(address => uint256) public balanceOf;

    struct Lock {
        address sender;
        uint256 amount;
    }

    // keccak256(toService) => index => what the outgoing call locked.
    mapping(bytes32 => mapping(uint64 => Lock)) private _locks;
    // keccak256(full service ID) => may mint here and receive transfers from here.
    mapping(bytes32 => bool) private _counterparts;

    event Locked(string toService, uint64 index, address indexed sender, address recipient, uint256 amount);
    event Minted(string fromService, uint64 index, address indexed recipient, uint256 amount);
    event Burned(uint256 amount);
    event Unlocked(address indexed sender, uint256 amount);
    event CounterpartSet(string service, bool allowed);

    modifier onlyBroker() {
        require(msg.sender == broker, "asset: only the broker");
        _;
    }

    constructor(address broker_, uint256 initialSupply, uint256 mintCap_) {
        broker = broker_;
        mintCap = mintCap_;
        owner = msg.sender;
        totalSupply = initialSupply;
        balanceOf[msg.sender] = initialSupply;
    }

    /// Allow (or stop allowing) `service`, a full service ID `hub:chain:0x<address>` with
    /// the address in lower case as the source broker writes it, to mint here and to be
    /// the destination of `transfer`. Owner only.
    function setCounterpart(string calldata service, bool allowed) external {
        require(msg.sender == owner, "asset: only the owner");
        _counterparts[keccak256(bytes(service))] = allowed;
        emit CounterpartSet(service, allowed);
    }

    /// Whether `service` is a registered counterpart (exact bytes of the full service ID).
    function isCounterpart(string calldata service) external view returns (bool) {
        return _counterparts[keccak256(bytes(service))];
    }

    /// Lock `amount` of the caller's balance and ask `toService` to mint it to `recipient`.
    /// `toService` must be a registered counterpart.
    function transfer(string calldata toService, address recipient, uint256 amount, uint64 timeout)
        external
        returns (uint64 index)
    {
        require(_counterparts[keccak256(bytes(toService))], "asset: destination is not a counterpart");
        require(amount > 0, "asset: zero amount");
        require(balanceOf[msg.sender] >= amount, "asset: insufficient balance");
        balanceOf[msg.sender] -= amount;
        totalLocked += amount;
        bytes[] memory args = new bytes[](1);
        args[0] = abi.encode(recipient, amount);
        index = IInterchainBroker(broker).emitInterchain(toService, "mint", args, timeout);
        _locks[keccak256(bytes(toService))][index] = Lock(msg.sender, amount);
        emit Locked(toService, index, msg.sender, recipient, amount);
    }

    function onInterchain(string calldata from, uint64 index, string calldata func, bytes[] calldata args)
        external
        onlyBroker
        returns (bytes memory)
    {
        require(_counterparts[keccak256(bytes(from))], "asset: source is not a counterpart");
        require(keccak256(bytes(func)) == keccak256("mint"), "asset: unknown function");
        require(args.length == 1, "asset: mint takes one argument");
        (address recipient, uint256 amount) = abi.decode(args[0], (address, uint256));
        require(recipient != address(0), "asset: mint to the zero address");
        require(amount <= mintCap, "asset: amount above mint cap");
        balanceOf[recipient] += amount;
        totalSupply += amount;
        emit Minted(from, index, recipient, amount);
        return abi.encode(recipient, amount);
    }

    function onCallback(string calldata to, uint64 index, bool ok, bytes calldata) external onlyBroker {
        if (!ok) return; // onRollback follows and returns the lock
        bytes32 key = keccak256(bytes(to));
        Lock memory l = _locks[key][index];
        if (l.amount == 0) return;
        delete _locks[key][index];
        totalLocked -= l.amount;
        totalSupply -= l.amount;
        emit Burned(l.amount);
    }

    function onRollback(string calldata to, uint64 index) external onlyBroker {
        bytes32 key = keccak256(bytes(to));
        Lock memory l = _locks[key][index];
        if (l.amount == 0) return;
        delete _locks[key][index];
        totalLocked -= l.amount;
        balanceOf[l.sender] += l.amount;
        emit Unlocked(l.sender, l.amount);
    }

    /// What the outgoing call `index` to `toService` still holds locked (0 once settled).
    function lockOf(string calldata toService, uint64 index) external view returns (address sender, uint256 amount) {
        Lock memory l = _locks[keccak256(bytes(toService))][index];
        return (l.sender, l.amount);
    }
}
