// Removes the build outputs given as arguments (portable `rm -rf`).
import { rmSync } from "node:fs";
for (const dir of process.argv.slice(2)) rmSync(new URL(`../${dir}`, import.meta.url), { recursive: true, force: true });
