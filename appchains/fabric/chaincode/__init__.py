"""The Fabric dev chain's chaincodes: the broker (docs/fabric.md §3.2) and the example
services ``asset`` and ``dataswap``, written against :class:`~.stub.Stub` — the shape
of Fabric's shim ``ChaincodeStubInterface`` — and run by the peers' simulation."""
