import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseFaqFile } from '../../src/knowledge/faq.js';
import { REVIEWED_FAQ_HEADER, saveFaqCorrection } from '../../src/review/faq-file.js';

/** Corrections written into FAQ files as a person would: valid, minimal diffs, never a broken file. */
let dir: string;
beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), 'parley-faq-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const comment = 'corrected by lead on 2026-11-25 (review abc)';

describe('saving a corrected answer into an FAQ file', () => {
  it('creates the file with a header, then adds entries with unique ids, each loadable as FAQ', async () => {
    const path = join(dir, 'reviewed-faq.yaml');
    const a = await saveFaqCorrection(path, 'kb/reviewed-faq.yaml', {
      question: 'Can I export invoices to PDF?',
      answer: 'Yes: **Invoices → Export → PDF**.',
      source: 'invoicing/create-invoice.md',
      comment,
    });
    const b = await saveFaqCorrection(path, 'kb/reviewed-faq.yaml', {
      question: 'Can I export invoices to PDF files?!',
      answer: 'Yes, one PDF per invoice.',
      comment,
    });
    expect([a, b].map((x) => [x.id, x.created])).toEqual([
      ['review-can-i-export-invoices-to-pdf', true],
      ['review-can-i-export-invoices-to-pdf-files', true],
    ]);
    const text = readFileSync(path, 'utf8');
    expect(
      text.startsWith(
        REVIEWED_FAQ_HEADER.split('\n')
          .map((l) => `#${l}`)
          .join('\n'),
      ),
    ).toBe(true);
    expect(text.match(/# corrected by lead/g)).toHaveLength(2);
    const entries = parseFaqFile('kb/reviewed-faq.yaml', text);
    expect(entries.map((e) => [e.id, e.questions, e.answer, e.source])).toEqual([
      ['review-can-i-export-invoices-to-pdf', ['Can I export invoices to PDF?'], 'Yes: **Invoices → Export → PDF**.', 'invoicing/create-invoice.md'],
      ['review-can-i-export-invoices-to-pdf-files', ['Can I export invoices to PDF files?!'], 'Yes, one PDF per invoice.', undefined],
    ]);
  });

  it('the same question again updates its entry instead of adding another; a new wording joins its variants', async () => {
    const path = join(dir, 'faq.yaml');
    writeFileSync(
      path,
      '# Our FAQ\n- id: vat\n  questions:\n    - Do you charge VAT?\n  answer: Sometimes.\n# keep this comment\n- id: other\n  questions: [What is Tallyho?]\n  answer: A time tracker.\n',
    );
    const r = await saveFaqCorrection(path, 'kb/faq.yaml', {
      question: 'do you charge vat',
      answer: 'VAT is added for EU customers without a VAT number.',
      comment,
    });
    expect(r).toMatchObject({ id: 'vat', created: false });
    await saveFaqCorrection(path, 'kb/faq.yaml', {
      question: 'Is VAT included in the price?',
      existingVariant: 'Do you charge VAT?',
      answer: 'Prices exclude VAT.',
      comment,
    });
    const text = readFileSync(path, 'utf8');
    expect(parse(text)).toEqual([
      { id: 'vat', questions: ['Do you charge VAT?', 'Is VAT included in the price?'], answer: 'Prices exclude VAT.\n' },
      { id: 'other', questions: ['What is Tallyho?'], answer: 'A time tracker.' },
    ]);
    expect(text).toContain('# Our FAQ');
    expect(text).toContain('# keep this comment');
  });

  it('refuses to write what the knowledge base could not load, leaving the file as it was', async () => {
    const path = join(dir, 'faq.yaml');
    const broken = '- id: a\n  questions: [Hello there]\n  answer: [unclosed\n';
    writeFileSync(path, broken);
    await expect(saveFaqCorrection(path, 'kb/faq.yaml', { question: 'Hello there', answer: 'Hi.', comment })).rejects.toMatchObject({ code: 'config_invalid' });
    expect(readFileSync(path, 'utf8')).toBe(broken);

    const map = join(dir, 'map.yaml');
    writeFileSync(map, 'question: not a list\n');
    await expect(saveFaqCorrection(map, 'kb/map.yaml', { question: 'Hello there', answer: 'Hi.', comment })).rejects.toThrow(/not a list of FAQ entries/);
    // A question too short to be an FAQ variant (the FAQ schema wants 3+ characters).
    await expect(saveFaqCorrection(join(dir, 'new.yaml'), 'kb/new.yaml', { question: 'hi', answer: 'Hello.', comment })).rejects.toMatchObject({
      code: 'config_invalid',
    });
    await expect(saveFaqCorrection(join(dir, 'new.yaml'), 'kb/new.yaml', { question: 'Hello there', answer: '  ', comment })).rejects.toThrow(/empty/);
    expect(() => readFileSync(join(dir, 'new.yaml'))).toThrow();
  });
});
