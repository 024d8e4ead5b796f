"""The Fabric family: Fabric's protocol (MSP identities, low-S signatures, endorsement
policies, endorsements, the broker chaincode's proposal responses and events), and, on
top of it, the relay-side verifier and the gateway-side adapter (docs/fabric.md).

The protocol modules (``errors``, ``signature``, ``identity``, ``policy``,
``endorsement``, ``proposal``) are pure — no I/O, no clock: "now" is a parameter in
Unix seconds — import nothing of the relay, and are shared with the Fabric dev chain
(``appchains/fabric``), whose peers endorse and validate with them.
"""
