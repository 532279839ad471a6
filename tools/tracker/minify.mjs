// Minifies the tracker: src/http/tracker.js (readable, commented) becomes
// what visitors download as /t.js, with the terser version package-lock.json
// pins and the options below, so the same source always gives the same bytes.
//
//   npm ci --prefix tools/tracker
//   npm run --prefix tools/tracker build     # rewrites src/http/tracker.min.js
//   node tools/tracker/minify.mjs            # prints it (tests/it/tracker.rs compares)

import { readFile, writeFile } from 'node:fs/promises';
import { minify } from 'terser';

const source = new URL('../../src/http/tracker.js', import.meta.url);

// ES5 out, as the source is: the tracker runs on every visitor's browser.
const OPTIONS = {
  ecma: 5,
  compress: { passes: 2 },
  mangle: true,
  format: { comments: false },
};

const { code } = await minify(await readFile(source, 'utf8'), OPTIONS);
const served = code + '\n';
const out = process.argv[2];
if (out) await writeFile(out, served);
else process.stdout.write(served);
