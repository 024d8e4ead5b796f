"""The Fabric-like app chain: identities, signatures, endorsement policies, endorsements,
and the broker chaincode's proposals, proposal responses and events (``proposal``).

Built on Fabric's own protobuf messages (``hyperledger-fabric-protos``) and on X.509 /
ECDSA P-256 from ``cryptography``. The verification modules (``signature``,
``identity``, ``policy``, ``endorsement``, ``proposal``) are pure: no I/O and no clock — "now" is a
parameter (Unix seconds). ``ca`` issues the test and dev-chain certificates. See
docs/fabric.md.
"""
