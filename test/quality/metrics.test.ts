import { describe, expect, it } from 'vitest';
import { bleu, lcsLength, rougeL, tokenize } from '../../src/quality/metrics.js';
import { scoreAgainstReference } from '../../src/quality/reference.js';

describe('tokenize', () => {
  it('lowercases words of spaced scripts and drops punctuation', () => {
    expect(tokenize('Click **Forgot password?** — it’s valid for 1 hour.')).toEqual(['click', 'forgot', 'password', 'its', 'valid', 'for', '1', 'hour']);
  });

  it('cuts Chinese and Japanese per character, even next to Latin words, never into one giant token', () => {
    expect(tokenize('退款期限为三十天。')).toEqual(['退', '款', '期', '限', '为', '三', '十', '天']);
    expect(tokenize('API调用')).toEqual(['api', '调', '用']);
    expect(tokenize('日本語のテキスト')).toHaveLength(8);
  });

  it('cuts Thai (no spaces, characters are not words) into words with Intl.Segmenter', () => {
    const tokens = tokenize('สวัสดีครับ');
    expect(tokens.length).toBeGreaterThan(1);
    expect(tokens.join('')).toBe('สวัสดีครับ');
  });
});

describe('ROUGE-L', () => {
  // Lin (2004), "ROUGE: A Package for Automatic Evaluation of Summaries", section 3.1:
  // R = "police killed the gunman"; S2 = "police kill the gunman" scores 3/4, S3 = "the gunman kill police" 2/4.
  it('matches the ROUGE paper example', () => {
    expect(rougeL('police kill the gunman', 'police killed the gunman').f).toBeCloseTo(0.75, 12);
    expect(rougeL('the gunman kill police', 'police killed the gunman').f).toBeCloseTo(0.5, 12);
  });

  it('is the F1 of LCS precision and recall, and takes the best reference', () => {
    // LCS("the cat sat on the mat", "the cat is on the mat") = 5: P = 5/6, R = 5/6.
    expect(lcsLength('a b c d e'.split(' '), 'a x c y e'.split(' '))).toBe(3);
    const r = rougeL('the cat sat', 'the cat sat on the mat');
    expect(r).toEqual({ precision: 1, recall: 0.5, f: 2 / 3 });
    expect(rougeL('the cat sat', ['a dog', 'the cat sat']).f).toBe(1);
    expect(rougeL('nothing shared', 'the cat sat').f).toBe(0);
  });

  it('scores a Chinese pair per character: one substituted character of eight', () => {
    // LCS("退款期限是三十天", "退款期限为三十天") = 7 of 8 characters.
    expect(rougeL('退款期限是三十天', '退款期限为三十天').f).toBeCloseTo(7 / 8, 12);
  });
});

describe('BLEU', () => {
  // NLTK's documented example for nltk.translate.bleu_score.sentence_bleu (three references, no
  // zero counts so smoothing does not apply): 0.5045666840058485.
  it('matches the NLTK sentence_bleu documentation example', () => {
    const hypothesis = 'It is a guide to action which ensures that the military always obeys the commands of the party';
    const references = [
      'It is a guide to action that ensures that the military will forever heed Party commands',
      'It is the guiding principle which guarantees the military forces always being under the command of the Party',
      'It is the practical guide for the army always to heed the directions of the party',
    ];
    expect(bleu(hypothesis, references).bleu).toBeCloseTo(0.5045666840058485, 12);
  });

  it('is 1 for an identical text and 0 with nothing shared', () => {
    expect(bleu('the dog bit the man', 'The dog bit the man.').bleu).toBe(1);
    expect(bleu('completely different words here', 'the dog bit the man').bleu).toBe(0);
    expect(bleu('', 'the dog bit the man').bleu).toBe(0);
  });

  it('smooths zero n-gram counts the sacrebleu "exp" way and applies the brevity penalty', () => {
    // "a cat sat down" vs "the cat sat on the mat": p1 = 2/4, p2 = 1/3, p3 = 0/2 → 1/(2·2), p4 = 0/1 → 1/(4·1);
    // BP = exp(1 − 6/4). By hand: exp(−0.5) · (1/2 · 1/3 · 1/4 · 1/4)^(1/4).
    const s = bleu('a cat sat down', 'the cat sat on the mat');
    expect(s.precisions).toEqual([0.5, 1 / 3, 0.25, 0.25]);
    expect(s.brevityPenalty).toBeCloseTo(Math.exp(-0.5), 12);
    expect(s.bleu).toBeCloseTo(Math.exp(-0.5) * (1 / 96) ** 0.25, 12);
    expect(s.bleu).toBeCloseTo(0.19377, 4);
  });

  it('uses only the n-gram orders a short candidate has (effective order)', () => {
    // 3 tokens, all matching: p1 = p2 = p3 = 1, no 4-gram; BP = exp(1 − 6/3).
    expect(bleu('the cat sat', 'the cat sat on the mat').bleu).toBeCloseTo(Math.exp(-1), 12);
  });

  it('scores a Chinese pair per character', () => {
    // p1 = 7/8, p2 = 5/7, p3 = 3/6, p4 = 1/5, BP = 1: (7/8 · 5/7 · 1/2 · 1/5)^(1/4) = 0.0625^(1/4) = 0.5.
    expect(bleu('退款期限是三十天', '退款期限为三十天').bleu).toBeCloseTo(0.5, 12);
  });
});

describe('scoreAgainstReference', () => {
  it('ignores citation markers, which references do not have', () => {
    expect(scoreAgainstReference('The dog bit the man [1].', 'The dog bit the man.')).toEqual({ rouge: 1, bleu: 1 });
  });
});
