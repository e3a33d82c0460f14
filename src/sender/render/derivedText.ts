import { compile } from 'html-to-text';

/**
 * The text part of a template without text.njk (templates/README.md): made from each
 * message's rendered HTML in the render thread. Links stay readable as `Label [https://…]`
 * (the address left out where it is the label itself), images are left out (their alt text
 * is decoration here, the tracking pixel none), headings and lists keep their shape.
 * Compiled once per thread: the converter's setup costs more than a conversion.
 */
export const textFromHtml: (html: string) => string = compile({
  // Not wrapped: a link stays on one line with its label, whatever its length.
  wordwrap: false,
  selectors: [
    { selector: 'a', options: { linkBrackets: ['[', ']'], hideLinkIfSameAsText: true, noAnchorUrl: true } },
    { selector: 'img', format: 'skip' },
    { selector: 'h1', options: { uppercase: false } },
    { selector: 'h2', options: { uppercase: false } },
    { selector: 'h3', options: { uppercase: false } },
    { selector: 'table', format: 'block' },
    { selector: 'tr', format: 'block' },
    { selector: 'td', format: 'block' },
    { selector: 'th', format: 'block' },
  ],
});
