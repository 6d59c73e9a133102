// RFC 4180 CSV for Bulk API 2.0: quoted fields, "" escapes, embedded delimiters and newlines; LF or CRLF.

export const DELIMITERS: Record<string, string> = {
  COMMA: ",",
  TAB: "\t",
  PIPE: "|",
  SEMICOLON: ";",
  CARET: "^",
  BACKQUOTE: "`",
};

export class CsvError extends Error {}

export function parseCsv(text: string, delimiter: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let i = 0;
  let quoted = false;
  let fieldStarted = false;
  const endField = () => {
    row.push(field);
    field = "";
    fieldStarted = false;
  };
  const endRow = () => {
    endField();
    rows.push(row);
    row = [];
  };
  while (i < text.length) {
    const c = text.charAt(i);
    if (quoted) {
      if (c === '"') {
        if (text.charAt(i + 1) === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        const next = text.charAt(i);
        if (i < text.length && next !== delimiter && next !== "\n" && next !== "\r") throw new CsvError(`unexpected character after closing quote at offset ${i}`);
        continue;
      }
      field += c;
      i++;
      continue;
    }
    if (c === '"' && !fieldStarted) {
      quoted = true;
      fieldStarted = true;
      i++;
    } else if (c === delimiter) {
      endField();
      i++;
    } else if (c === "\r" && text.charAt(i + 1) === "\n") {
      endRow();
      i += 2;
    } else if (c === "\n") {
      endRow();
      i++;
    } else {
      field += c;
      fieldStarted = true;
      i++;
    }
  }
  if (quoted) throw new CsvError("unterminated quoted field");
  // A trailing line ending does not start another record.
  if (fieldStarted || field !== "" || row.length > 0) endRow();
  return rows;
}

function quote(value: string): string {
  return `"${value.replace(/"/g, '""')}"`;
}

/** Every field quoted, as Salesforce writes results: safe whatever delimiter the reader guesses. */
export function toCsv(header: string[], rows: string[][], delimiter: string, lineEnding: string): string {
  return [header, ...rows].map((r) => r.map(quote).join(delimiter)).join(lineEnding) + lineEnding;
}
