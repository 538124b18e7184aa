// tsc emits no .d.ts for a .d.ts source: copy the generated schema next to the emitted index.d.ts.
import { copyFileSync } from "node:fs";
copyFileSync(new URL("../src/schema.d.ts", import.meta.url), new URL("../dist/schema.d.ts", import.meta.url));
