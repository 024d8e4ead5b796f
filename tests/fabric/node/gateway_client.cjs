// Drives a Fabric peer's Gateway service with Hyperledger's official Node client,
// @hyperledger/fabric-gateway (pinned in package-lock.json), as an application would.
//
//   node gateway_client.cjs PLAN.json
//
// PLAN.json: {"endpoint": "127.0.0.1:PORT", "mspId": "Org1MSP", "certPath": "...",
//             "keyPath": "...", "channel": "...", "steps": [STEP, ...]}
// STEP is one of
//   {"op": "evaluate", "chaincode": C, "fn": F, "args": [string, ...]}
//   {"op": "submit",   "chaincode": C, "fn": F, "args": [string, ...],
//                      "endorsingOrganizations": [mspId, ...]   (optional)}
//   {"op": "events",   "chaincode": C, "startBlock": N, "count": K}
// and prints one JSON line per step: the result (hex), the transaction ID, the commit
// status code and block, or the events read. Any error prints {"error": ...} for that
// step (with the gRPC details the client gives) and the script goes on. Every call has a
// deadline, so the script always ends.
'use strict';

const fs = require('node:fs');
const crypto = require('node:crypto');
const grpc = require('@grpc/grpc-js');
const { connect, signers, hash } = require('@hyperledger/fabric-gateway');

const DEADLINE_MS = 10000;

function hex(bytes) {
    return Buffer.from(bytes).toString('hex');
}

function describe(err) {
    const out = { error: String(err && err.message ? err.message : err) };
    if (err && err.code !== undefined) out.code = err.code;
    if (err && err.details) {
        out.details = err.details.map((d) => ({ mspId: d.mspId, message: d.message }));
    }
    if (err && err.transactionId) out.transactionId = err.transactionId;
    return out;
}

async function readEvents(network, step) {
    const events = await network.getChaincodeEvents(step.chaincode, {
        startBlock: BigInt(step.startBlock),
    });
    const found = [];
    const timer = setTimeout(() => events.close(), DEADLINE_MS);
    try {
        for await (const event of events) {
            found.push({
                blockNumber: Number(event.blockNumber),
                transactionId: event.transactionId,
                chaincodeName: event.chaincodeName,
                eventName: event.eventName,
                payload: Buffer.from(event.payload).toString('utf8'),
            });
            if (found.length >= step.count) break;
        }
    } finally {
        clearTimeout(timer);
        events.close();
    }
    return { events: found };
}

async function runStep(network, step) {
    const contract = network.getContract(step.chaincode);
    switch (step.op) {
        case 'evaluate': {
            const result = await contract.evaluateTransaction(step.fn, ...(step.args || []));
            return { result: hex(result) };
        }
        case 'submit': {
            const options = { arguments: step.args || [] };
            if (step.endorsingOrganizations) {
                options.endorsingOrganizations = step.endorsingOrganizations;
            }
            const submitted = await contract.submitAsync(step.fn, options);
            const status = await submitted.getStatus();
            return {
                transactionId: submitted.getTransactionId(),
                result: hex(submitted.getResult()),
                code: status.code,
                successful: status.successful,
                blockNumber: Number(status.blockNumber),
            };
        }
        case 'events':
            return readEvents(network, step);
        default:
            throw new Error(`unknown op ${step.op}`);
    }
}

async function main() {
    const plan = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
    const client = new grpc.Client(plan.endpoint, grpc.credentials.createInsecure());
    const gateway = connect({
        client,
        identity: { mspId: plan.mspId, credentials: fs.readFileSync(plan.certPath) },
        signer: signers.newPrivateKeySigner(crypto.createPrivateKey(fs.readFileSync(plan.keyPath))),
        hash: hash.sha256,
        evaluateOptions: () => ({ deadline: Date.now() + DEADLINE_MS }),
        endorseOptions: () => ({ deadline: Date.now() + DEADLINE_MS }),
        submitOptions: () => ({ deadline: Date.now() + DEADLINE_MS }),
        commitStatusOptions: () => ({ deadline: Date.now() + DEADLINE_MS }),
    });
    try {
        const network = gateway.getNetwork(plan.channel);
        for (const step of plan.steps) {
            let out;
            try {
                out = await runStep(network, step);
            } catch (err) {
                out = describe(err);
            }
            process.stdout.write(JSON.stringify({ op: step.op, ...out }) + '\n');
        }
    } finally {
        gateway.close();
        client.close();
    }
}

main().catch((err) => {
    process.stderr.write(`gateway_client: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
});
