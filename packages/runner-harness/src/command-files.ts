// The runner's file commands: GITHUB_OUTPUT, GITHUB_STATE and GITHUB_ENV hold `name=value` lines
// or `name<<DELIMITER` … `DELIMITER` blocks (what @actions/core writes); the runner reads them after
// the step. Parsed here exactly so, and a line that is neither is an error, as on the runner.
import { readFileSync } from 'node:fs';

export class CommandFileError extends Error {
  override name = 'CommandFileError';
}

/** Parses one file command's text into name → value (later lines win, as on the runner). */
export function parseCommandFile(text: string, file = 'command file'): Record<string, string> {
  const result: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    const eq = line.indexOf('=');
    if (heredoc && (eq === -1 || eq > line.indexOf('<<'))) {
      const [, name, delimiter] = heredoc;
      const value: string[] = [];
      let closed = false;
      for (i++; i < lines.length; i++) {
        if (lines[i] === delimiter) {
          closed = true;
          break;
        }
        value.push(lines[i]!);
      }
      if (!closed)
        throw new CommandFileError(`${file}: matching delimiter "${delimiter}" not found for ${name}`);
      result[name!] = value.join('\n');
    } else if (eq > 0) {
      result[line.slice(0, eq)] = line.slice(eq + 1);
    } else {
      throw new CommandFileError(`${file}: invalid line ${i + 1}: ${JSON.stringify(line.slice(0, 80))}`);
    }
  }
  return result;
}

export function readCommandFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return {};
  }
  return parseCommandFile(text, path);
}

/** Workflow commands on stdout the harness collects (annotations and masks). */
export interface StdoutCommands {
  errors: string[];
  warnings: string[];
  notices: string[];
  masks: string[];
}

export function parseStdoutCommands(stdout: string): StdoutCommands {
  const found: StdoutCommands = { errors: [], warnings: [], notices: [], masks: [] };
  for (const m of stdout.matchAll(/^::(error|warning|notice|add-mask)(?: [^:]*)?::(.*)$/gm)) {
    const value = m[2]!.replace(/%0A/g, '\n').replace(/%0D/g, '\r').replace(/%25/g, '%');
    if (m[1] === 'error') found.errors.push(value);
    else if (m[1] === 'warning') found.warnings.push(value);
    else if (m[1] === 'notice') found.notices.push(value);
    else found.masks.push(value);
  }
  return found;
}
