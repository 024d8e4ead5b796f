// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.26;

import {IInterchainService} from "./IInterchainService.sol";

/// @title relayhub broker for EVM app chains (docs/broker.md).
/// @notice Local services send interchain calls through `emitInterchain`; the gateway
/// delivers inbound calls (`invokeInterchain`) and receipts / rollbacks (`invokeReceipt`)
/// with a relay proof: signatures of at least `threshold` distinct registered relay
/// validators over the signed digest of docs/protocol.md §2.2, recomputed here. A
/// destination never undoes a call it executed: a rollback notice for it is taken and
/// changes nothing, and the call's receipt settles it at the relay.
contract Broker {
    // keccak256("relayhub.relay-proof.v2"): v2 names the chain a proof is addressed to.
    bytes32 private constant RELAY_PROOF_DOMAIN = 0xc80ddd02d7eb700aaac9bb5d1d67edef9c6cb63550f59f976f535d7951939da6;
    // secp256k1 n / 2: signatures must be low-s (EIP-2).
    uint256 private constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    // What an IBTP can carry (docs/protocol.md §2): the broker refuses more at emit time.
    uint256 private constant MAX_FUNC_BYTES = 128;
    uint256 private constant MAX_ARGS = 32;
    uint256 private constant MAX_ARG_BYTES = 32768;

    uint8 private constant TYPE_INTERCHAIN = 0;
    uint8 private constant TYPE_RECEIPT_SUCCESS = 1;
    uint8 private constant TYPE_RECEIPT_FAILURE = 2;
    uint8 private constant TYPE_RECEIPT_ROLLBACK = 3;

    uint8 private constant STATUS_BEGIN = 0;
    uint8 private constant STATUS_SUCCESS = 1;
    uint8 private constant STATUS_FAILURE = 2;
    uint8 private constant STATUS_BEGIN_FAILURE = 4;
    uint8 private constant STATUS_BEGIN_ROLLBACK = 5;

    // Destination-side state of an inbound index.
    uint8 private constant IN_NONE = 0;
    uint8 private constant IN_SUCCEEDED = 1;
    uint8 private constant IN_FAILED = 2;
    uint8 private constant IN_ROLLED_BACK = 3;

    string private _hubId;
    string private _chainId;
    bytes32 private immutable _prefixHash; // keccak256("hubId:chainId:")
    uint256 private immutable _prefixLength;

    address[] private _validators;
    mapping(address => uint256) private _validatorBit; // 1 << position, 0 if not a validator
    uint64 private _threshold;

    struct OutMessage {
        string func;
        bytes[] args;
        uint64 timeout;
    }

    struct ReceiptMessage {
        uint8 typ;
        bytes result;
    }

    // Keyed by keccak256(abi.encode(from, to)).
    mapping(bytes32 => uint64) private _outCounter;
    mapping(bytes32 => uint64) private _inCounter;
    mapping(bytes32 => uint64) private _callbackCounter;
    mapping(bytes32 => mapping(uint64 => OutMessage)) private _outMessages;
    mapping(bytes32 => mapping(uint64 => ReceiptMessage)) private _receiptMessages;
    mapping(bytes32 => mapping(uint64 => uint8)) private _inState;
    mapping(bytes32 => mapping(uint64 => bool)) private _callbackDone;

    bool private _entered;

    event InterchainEvent(
        string from,
        string to,
        uint64 index,
        string func,
        bytes[] args,
        bool encrypted,
        uint64 timeout,
        bytes32 payloadHash
    );
    event ReceiptEvent(string from, string to, uint64 index, uint8 typ, bytes result, bytes32 payloadHash);
    event CallbackEvent(string from, string to, uint64 index, uint8 typ);

    modifier nonReentrant() {
        require(!_entered, "broker: reentrant call");
        _entered = true;
        _;
        _entered = false;
    }

    constructor(string memory hubId, string memory chainId, address[] memory relayValidators_, uint64 threshold) {
        require(_isIdSegment(bytes(hubId)), "broker: bad hub id");
        require(_isIdSegment(bytes(chainId)), "broker: bad chain id");
        uint256 n = relayValidators_.length;
        require(n >= 1 && n <= 256, "broker: 1 to 256 relay validators");
        require(threshold >= 1 && threshold <= n, "broker: threshold out of range");
        for (uint256 i = 0; i < n; ++i) {
            address v = relayValidators_[i];
            require(v != address(0), "broker: zero relay validator");
            require(_validatorBit[v] == 0, "broker: duplicate relay validator");
            _validatorBit[v] = uint256(1) << i;
            _validators.push(v);
        }
        _threshold = threshold;
        _hubId = hubId;
        _chainId = chainId;
        bytes memory prefix = bytes(string.concat(hubId, ":", chainId, ":"));
        _prefixHash = keccak256(prefix);
        _prefixLength = prefix.length;
    }

    // ------------------------------------------------------------------ sending

    /// Called by a local service. from = fullId(msg.sender); index = ++outCounter[from][to].
    function emitInterchain(string calldata to, string calldata func, bytes[] calldata args, uint64 timeout)
        external
        returns (uint64 index)
    {
        require(!_isOnThisChain(to), "broker: to is on this chain");
        // Refuse here what the relay could never admit: a request the relay cannot decode
        // would leave its index unconsumed, and the pair would wait behind it for good.
        require(_isRemoteServiceId(bytes(to)), "broker: to is not a service ID of this hub");
        require(_isPrintableAscii(bytes(func), MAX_FUNC_BYTES), "broker: func is not 0-128 printable ASCII characters");
        require(args.length <= MAX_ARGS, "broker: at most 32 args of at most 32768 bytes");
        for (uint256 i = 0; i < args.length; ++i) {
            require(args[i].length <= MAX_ARG_BYTES, "broker: at most 32 args of at most 32768 bytes");
        }
        string memory from = _fullId(msg.sender);
        bytes32 pair = _pairKey(from, to);
        index = _outCounter[pair] + 1;
        _outCounter[pair] = index;
        OutMessage storage m = _outMessages[pair][index];
        m.func = func;
        for (uint256 i = 0; i < args.length; ++i) {
            m.args.push(args[i]);
        }
        m.timeout = timeout;
        emit InterchainEvent(from, to, index, func, args, false, timeout, _payloadHash(func, args));
    }

    // ------------------------------------------------------------------ receiving

    /// Called by the gateway with a relay proof for an INTERCHAIN message (status BEGIN).
    function invokeInterchain(
        string calldata from,
        string calldata to,
        uint64 index,
        string calldata func,
        bytes[] calldata args,
        bytes[] calldata signatures
    ) external nonReentrant {
        (bool local, address target) = _parseLocal(to);
        require(local, "broker: to is not a local service");
        bytes32 pair = _pairKey(from, to);
        require(index == _inCounter[pair] + 1, "broker: index out of order");
        bytes32 digest = _signedDigest(from, to, index, TYPE_INTERCHAIN, _payloadHash(func, args), STATUS_BEGIN);
        _checkRelayProof(digest, signatures);
        _advanceIn(pair, index);

        uint8 typ;
        bytes memory result;
        if (target.code.length == 0) {
            typ = TYPE_RECEIPT_FAILURE;
            result = bytes("no service code");
            _inState[pair][index] = IN_FAILED;
        } else {
            uint256 gasBefore = gasleft();
            try IInterchainService(target).onInterchain(from, index, func, args) returns (bytes memory ret) {
                typ = TYPE_RECEIPT_SUCCESS;
                result = ret;
                _inState[pair][index] = IN_SUCCEEDED;
            } catch Error(string memory reason) {
                typ = TYPE_RECEIPT_FAILURE;
                result = bytes(reason);
                _inState[pair][index] = IN_FAILED;
            } catch (bytes memory data) {
                // A call that ran out of the gas the caller chose to give is not the
                // service's answer: refuse the whole delivery so it can be retried.
                require(gasleft() > gasBefore / 63, "broker: service ran out of gas");
                typ = TYPE_RECEIPT_FAILURE;
                result = data;
                _inState[pair][index] = IN_FAILED;
            }
        }
        ReceiptMessage storage r = _receiptMessages[pair][index];
        r.typ = typ;
        r.result = result;
        emit ReceiptEvent(from, to, index, typ, result, _receiptPayloadHash(typ, result));
    }

    /// Called by the gateway with a relay proof for a receipt (typ 1/2) or a rollback (typ 3).
    function invokeReceipt(
        string calldata from,
        string calldata to,
        uint64 index,
        uint8 typ,
        bytes calldata result,
        uint8 status,
        bytes[] calldata signatures
    ) external nonReentrant {
        require(
            typ == TYPE_RECEIPT_SUCCESS || typ == TYPE_RECEIPT_FAILURE || typ == TYPE_RECEIPT_ROLLBACK,
            "broker: bad receipt type"
        );
        require(_statusMatches(typ, status), "broker: status does not match type");
        require(typ != TYPE_RECEIPT_ROLLBACK || result.length == 0, "broker: rollback carries no result");
        require(index >= 1, "broker: unknown index");
        bytes32 digest = _signedDigest(from, to, index, typ, _receiptPayloadHash(typ, result), status);
        _checkRelayProof(digest, signatures);

        bytes32 pair = _pairKey(from, to);
        (bool fromLocal, address source) = _parseLocal(from);
        if (fromLocal) {
            require(index <= _outCounter[pair], "broker: unknown index");
            require(!_callbackDone[pair][index], "broker: receipt already processed");
            _callbackDone[pair][index] = true;
            if (source.code.length != 0) {
                // Callback failures revert the whole receipt so that it can be delivered
                // again; swallowing them would lose a rollback for good.
                if (typ == TYPE_RECEIPT_SUCCESS) {
                    IInterchainService(source).onCallback(to, index, true, result);
                } else if (typ == TYPE_RECEIPT_FAILURE) {
                    IInterchainService(source).onCallback(to, index, false, result);
                    IInterchainService(source).onRollback(to, index);
                } else {
                    IInterchainService(source).onRollback(to, index);
                }
            }
            _callbackCounter[pair] += 1;
            emit CallbackEvent(from, to, index, typ);
            return;
        }

        // The destination side. A notice may name a service ID of this chain that is no
        // possible service (not a lowercase address): nothing can ever run for it here, so
        // it is taken like any other (marked once), not refused, and never blocks a gateway.
        (bool toLocal,) = _parseLocal(to);
        require(
            typ == TYPE_RECEIPT_ROLLBACK && (toLocal || _isOnThisChain(to)), "broker: neither side is local"
        );
        uint8 state = _inState[pair][index];
        // Executed already (the notice of a timeout crossed the delivery): its outcome
        // stands, and its receipt settles the transaction at the relay (a late receipt).
        // The notice is taken and changes nothing: no undo, no revert, no event.
        if (state == IN_SUCCEEDED || state == IN_FAILED) {
            return;
        }
        require(state != IN_ROLLED_BACK, "broker: receipt already processed");
        _inState[pair][index] = IN_ROLLED_BACK;
        // A notice for the next index (a request the relay never routed, or one that timed
        // out before it was delivered) consumes that index: the request never executes.
        if (index == _inCounter[pair] + 1) {
            _advanceIn(pair, index);
        }
        // The destination's acknowledgement: this index will never run here. The relay
        // tells the source to roll back only once it has seen this event.
        emit CallbackEvent(from, to, index, typ);
    }

    // ------------------------------------------------------------------ views

    function outCounter(string calldata from, string calldata to) external view returns (uint64) {
        return _outCounter[_pairKey(from, to)];
    }

    function inCounter(string calldata from, string calldata to) external view returns (uint64) {
        return _inCounter[_pairKey(from, to)];
    }

    function callbackCounter(string calldata from, string calldata to) external view returns (uint64) {
        return _callbackCounter[_pairKey(from, to)];
    }

    function outMessage(string calldata from, string calldata to, uint64 index)
        external
        view
        returns (string memory func, bytes[] memory args, uint64 timeout)
    {
        OutMessage storage m = _outMessages[_pairKey(from, to)][index];
        return (m.func, m.args, m.timeout);
    }

    function receiptMessage(string calldata from, string calldata to, uint64 index)
        external
        view
        returns (uint8 typ, bytes memory result)
    {
        ReceiptMessage storage r = _receiptMessages[_pairKey(from, to)][index];
        return (r.typ, r.result);
    }

    function relayValidators() external view returns (address[] memory validators, uint64 threshold) {
        return (_validators, _threshold);
    }

    // ------------------------------------------------------------------ internals

    /// inCounter = index, then past every following index already rolled back (its notice
    /// came before the requests ahead of it were delivered). Each skipped index was marked
    /// by an earlier relay-proven call, so the loop's work is paid for by those calls.
    function _advanceIn(bytes32 pair, uint64 index) private {
        while (_inState[pair][index + 1] == IN_ROLLED_BACK) {
            ++index;
        }
        _inCounter[pair] = index;
    }

    /// `hubId:chain:service` with this hub's ID, a chain of `[A-Za-z0-9_.-]{1,64}` and a
    /// service of `[A-Za-z0-9_.-]{1,128}` (docs/protocol.md §1).
    function _isRemoteServiceId(bytes calldata b) private view returns (bool) {
        bytes memory hub = bytes(_hubId);
        uint256 h = hub.length;
        if (b.length < h + 4 || keccak256(b[0:h]) != keccak256(hub) || b[h] != ":") return false;
        uint256 colon = 0;
        for (uint256 i = h + 1; i < b.length; ++i) {
            if (b[i] == ":") {
                if (colon != 0) return false;
                colon = i;
            } else if (!_isIdChar(uint8(b[i]))) {
                return false;
            }
        }
        if (colon == 0) return false;
        uint256 chainLength = colon - h - 1;
        uint256 serviceLength = b.length - colon - 1;
        return chainLength >= 1 && chainLength <= 64 && serviceLength >= 1 && serviceLength <= 128;
    }

    function _isPrintableAscii(bytes calldata b, uint256 maxLength) private pure returns (bool) {
        if (b.length > maxLength) return false;
        for (uint256 i = 0; i < b.length; ++i) {
            uint8 c = uint8(b[i]);
            if (c < 0x20 || c > 0x7e) return false;
        }
        return true;
    }

    function _isIdChar(uint8 c) private pure returns (bool) {
        return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f
            || c == 0x2e || c == 0x2d;
    }

    /// Whether `id` starts with this chain's `hubId:chainId:` (a local service).
    function _isOnThisChain(string calldata id) private view returns (bool) {
        bytes calldata b = bytes(id);
        uint256 p = _prefixLength;
        return b.length >= p && keccak256(b[0:p]) == _prefixHash;
    }

    function _pairKey(string memory from, string memory to) private pure returns (bytes32) {
        return keccak256(abi.encode(from, to));
    }

    function _payloadHash(string memory func, bytes[] memory args) private pure returns (bytes32) {
        return keccak256(abi.encode(func, args, false));
    }

    /// payloadHash("", [result], false) for a receipt, payloadHash("", [], false) for a rollback.
    function _receiptPayloadHash(uint8 typ, bytes memory result) private pure returns (bytes32) {
        bytes[] memory args;
        if (typ == TYPE_RECEIPT_ROLLBACK) {
            args = new bytes[](0);
        } else {
            args = new bytes[](1);
            args[0] = result;
        }
        return _payloadHash("", args);
    }

    function _signedDigest(
        string memory from,
        string memory to,
        uint64 index,
        uint8 ibtpType,
        bytes32 payloadHash,
        uint8 status
    ) private view returns (bytes32) {
        return keccak256(
            abi.encode(RELAY_PROOF_DOMAIN, _hubId, _chainId, from, to, index, ibtpType, payloadHash, status)
        );
    }

    function _statusMatches(uint8 typ, uint8 status) private pure returns (bool) {
        if (typ == TYPE_RECEIPT_SUCCESS) return status == STATUS_SUCCESS;
        if (typ == TYPE_RECEIPT_FAILURE) return status == STATUS_FAILURE;
        return status == STATUS_BEGIN_ROLLBACK || status == STATUS_BEGIN_FAILURE;
    }

    /// Require at least `threshold` distinct registered relay validators among the signers.
    /// Every signature must be well formed and come from a registered validator; a
    /// validator that signed twice counts once.
    function _checkRelayProof(bytes32 digest, bytes[] calldata signatures) private view {
        uint256 seen;
        uint256 count;
        for (uint256 i = 0; i < signatures.length; ++i) {
            bytes calldata sig = signatures[i];
            require(sig.length == 65, "broker: malformed relay signature");
            bytes32 r = bytes32(sig[0:32]);
            bytes32 s = bytes32(sig[32:64]);
            uint8 v = uint8(sig[64]);
            require(v == 27 || v == 28, "broker: malformed relay signature");
            require(uint256(s) <= HALF_N, "broker: malformed relay signature");
            address signer = ecrecover(digest, v, r, s);
            require(signer != address(0), "broker: malformed relay signature");
            uint256 bit = _validatorBit[signer];
            require(bit != 0, "broker: unregistered relay signer");
            if (seen & bit == 0) {
                seen |= bit;
                ++count;
            }
        }
        require(count >= _threshold, "broker: relay signatures below threshold");
    }

    /// `hubId:chainId:0x<40 lowercase hex>` of a local address.
    function _fullId(address account) private view returns (string memory) {
        return string.concat(_hubId, ":", _chainId, ":", _hexAddress(account));
    }

    function _hexAddress(address account) private pure returns (string memory) {
        bytes16 digits = "0123456789abcdef";
        bytes memory out = new bytes(42);
        out[0] = "0";
        out[1] = "x";
        uint160 value = uint160(account);
        for (uint256 i = 41; i > 1; --i) {
            out[i] = digits[value & 0xf];
            value >>= 4;
        }
        return string(out);
    }

    /// Whether `id` is `hubId:chainId:0x<40 lowercase hex>` of this chain, and that address.
    function _parseLocal(string calldata id) private view returns (bool, address) {
        bytes calldata b = bytes(id);
        uint256 p = _prefixLength;
        if (b.length != p + 42) return (false, address(0));
        if (keccak256(b[0:p]) != _prefixHash) return (false, address(0));
        if (b[p] != "0" || b[p + 1] != "x") return (false, address(0));
        uint160 value;
        for (uint256 i = p + 2; i < b.length; ++i) {
            uint8 c = uint8(b[i]);
            uint8 d;
            if (c >= 0x30 && c <= 0x39) {
                d = c - 0x30;
            } else if (c >= 0x61 && c <= 0x66) {
                d = c - 0x57;
            } else {
                return (false, address(0));
            }
            value = (value << 4) | d;
        }
        return (true, address(value));
    }

    /// `[A-Za-z0-9_.-]{1,64}` (docs/protocol.md §1).
    function _isIdSegment(bytes memory b) private pure returns (bool) {
        if (b.length == 0 || b.length > 64) return false;
        for (uint256 i = 0; i < b.length; ++i) {
            uint8 c = uint8(b[i]);
            bool ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
                || c == 0x5f || c == 0x2e || c == 0x2d;
            if (!ok) return false;
        }
        return true;
    }
}
