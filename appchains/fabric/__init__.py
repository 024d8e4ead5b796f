"""The Fabric-like app chain: organisations with CAs (``ca``), peers, an orderer and
the broker chaincode, on Fabric's own protobuf messages (``hyperledger-fabric-protos``).

The MSP, policy, endorsement and proposal code it shares with the relay-side verifier
lives in ``adapters.fabric`` (pure, importing nothing of the relay). See
docs/fabric.md.
"""
