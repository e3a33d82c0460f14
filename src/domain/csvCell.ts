// CSV cells of a recipient export (docs/http-api.md, "Export a list").

const NEEDS_QUOTES = /[",\r\n]/;
/** What a spreadsheet reads as the start of a formula (OWASP, "CSV Injection"). */
const FORMULA_START = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * A cell as csv-stringify writes it by default: quoted when it holds a comma, a double quote,
 * CR or LF, with its quotes doubled; null and '' are empty.
 */
export function csvCell(value: string | null): string {
  if (value === null) return '';
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/**
 * A cell a spreadsheet shows as text: a value that would start a formula (=, +, -, @, a tab
 * or CR first) gets a leading apostrophe, which spreadsheets take as "this is text" and do not
 * show. Plain numbers (-5, +49301234) are left alone: they are not formulas, and a score or a
 * phone number should stay one. The apostrophe is data to any other program, so a file meant
 * to be read back (by Herald's import, or another tool) is exported raw.
 */
export function spreadsheetSafe(value: string | null): string | null {
  if (value === null || !FORMULA_START.test(value) || PLAIN_NUMBER.test(value)) return value;
  return `'${value}`;
}
