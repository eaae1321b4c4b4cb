// benchmarks/bench_server.sh's MCP half: one session of the official SDK
// client over `omnibase mcp` (stdio), as an agent keeps it, timing
// tools/call env_exec of /bin/true. Prints one figure (ms) per call.
//   node bench_server_mcp.mjs OMNIBASE ENV_ID ROUNDS
import path from "node:path";
import { pathToFileURL } from "node:url";

const sdk = path.join(path.dirname(new URL(import.meta.url).pathname),
  "../tests/mcp/node_modules/@modelcontextprotocol/sdk/dist/esm/client");
const { Client } = await import(pathToFileURL(path.join(sdk, "index.js")));
const { StdioClientTransport } = await import(pathToFileURL(path.join(sdk, "stdio.js")));

const [omnibase, id, rounds] = process.argv.slice(2);
const transport = new StdioClientTransport({
  command: omnibase, args: ["mcp"],
  env: { PATH: process.env.PATH, OMNIBASE_STATE_DIR: process.env.OMNIBASE_STATE_DIR,
    OMNIBASE_CONFIG: process.env.OMNIBASE_CONFIG },
});
const client = new Client({ name: "omnibase-bench", version: "1" });
await client.connect(transport);
const call = () => client.callTool({ name: "env_exec", arguments: { id, argv: ["/bin/true"] } });
const warm = await call();
if (warm.isError || warm.structuredContent.status !== "ok") {
  console.error("env_exec failed: " + JSON.stringify(warm.structuredContent));
  process.exit(1);
}
for (let i = 0; i < Number(rounds); i++) {
  const t0 = performance.now();
  await call();
  console.log((performance.now() - t0).toFixed(1));
}
await client.close();
