// "Format document": prettier's standalone build with its babel and estree
// plugins (babel-ts parses TypeScript). About 170 KB gzipped, so it is its
// own chunk, imported by the editor the first time a script is formatted.

import { formatWithCursor } from 'prettier/standalone';
import babel from 'prettier/plugins/babel';
import estree from 'prettier/plugins/estree';

/** A script that does not parse: `message` without its position, and where (1-based). */
export class FormatError extends Error {
  constructor(message, line, column) {
    super(message);
    this.name = 'FormatError';
    this.line = line;
    this.column = column;
  }
}

/**
 * `text` formatted as a script in `language` (`javascript` or
 * `typescript`), and where `cursor` (an offset into `text`) is in it.
 * Throws FormatError when the text does not parse.
 */
export async function formatScript(text, language, cursor = 0) {
  try {
    const { formatted, cursorOffset } = await formatWithCursor(text, {
      parser: language === 'typescript' ? 'babel-ts' : 'babel',
      plugins: [babel, estree],
      cursorOffset: Math.min(Math.max(cursor, 0), text.length),
    });
    return { text: formatted, cursor: Math.max(cursorOffset, 0) };
  } catch (error) {
    const start = error?.loc?.start;
    if (!start) throw error;
    // Prettier's first line ends with its own "(line:column)".
    const message = String(error.message).split('\n')[0].replace(/\s*\(\d+:\d+\)\s*$/, '');
    throw new FormatError(message, start.line, start.column);
  }
}
