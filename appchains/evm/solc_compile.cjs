// Compile a solc standard-JSON input with the pinned npm `solc` (solcjs) and write the
// standard-JSON output to a file. Used by build_contracts.py; writing a file avoids
// the solcjs CLI's habit of exiting before a large stdout pipe is flushed.
//
//   node solc_compile.cjs INPUT.json OUTPUT.json
"use strict";
const fs = require("fs");
const solc = require("solc");

function main() {
  const [input, output] = process.argv.slice(2);
  if (!input || !output) {
    process.stderr.write("usage: node solc_compile.cjs INPUT.json OUTPUT.json\n");
    process.exit(2);
  }
  const result = JSON.parse(solc.compile(fs.readFileSync(input, "utf8")));
  result.solcVersion = solc.version();
  fs.writeFileSync(output, JSON.stringify(result));
}

main();
