import type { Detector } from './detector.js';

/**
 * Secrets that are recognised by the words around them, as people write them in chat: "the root
 * passwd on the jump box is …", "pw: …", `DB_PASSWORD="…"`, "我的密码是 …", "验证码：…".
 *
 * What is *not* a secret: a reference to where a secret lives (`process.env.X_API_KEY`,
 * `os.environ["X"]`, `${API_KEY}`, `$SECRET`, `{{ secrets.X }}`, `config.password`), a type
 * (`password: str`), a placeholder (`<your-key>`, `YOUR_API_KEY`, `sk-...`, `xxxx`, `****`,
 * `changeme`), and a sentence about a password ("the password is wrong", "pw: see the vault").
 */

// Spellings that can only mean a password; their value after "is"/":" may be a plain word.
const STRONG = String.raw`pass(?:word|wd|wrd|wort|code|phrase)?|pasword|passowrd|passwrod|pword|pwd|pw|db[_-]?pass(?:word)?`;
// Names whose value is only taken when it looks generated (digits, symbols or long).
const WEAK = String.raw`secret[_-]?(?:access[_-]?)?key|signing[_-]?key|encryption[_-]?key|secret|client[_-]?secret|api[_-]?key|apikey|access[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|token|private[_-]?key`;

/** Words that follow "password is"/"password:" in a sentence about a password, not a password. */
const STATE_WORDS = new Set(
  `a an the this that it its my your his her our their same different one what which where how when why who
  wrong incorrect correct right required mandatory optional invalid valid expired expiring empty blank missing
  too not no yes never always still also now just only already again being been be set reset changed updated
  saved stored hashed encrypted encoded salted plain plaintext cleartext shown hidden visible masked sent
  needed needs need locked unlocked weak strong short long ok okay fine good bad rejected accepted ignored
  case case-sensitive sensitive unknown forgotten lost gone broken working different changing
  in on at for from with without by of to into via see check use ask same below above here there
  str string int bool boolean text varchar char bytes none null nil undefined true false optional
  field fields prompt dialog box input form policy rules rule length requirements requirement protected
  managed rotated generated random printed logged stored there`
    .split(/\s+/)
    .filter(Boolean),
);

/** Where a secret lives, not the secret. The value may be cut at a quote or bracket. */
const REFERENCE =
  /^(?:!\w+|(?:await|new|yield|lambda|function)\b|\$\{?[A-Za-z_]\w*\}?|\$\(|%[A-Za-z_]\w*%|\{\{|\{%|(?:process|Deno|import\.meta)\.env\b|os\.(?:environ|getenv)\b|(?:System\.)?getenv\b|ENV\[|env\(|(?:request|req|self|this|config|cfg|conf|settings|secrets|vars|env|args|opts|options|params|vault|creds|credentials|user|data|form|body)[.[]|[A-Za-z_][\w.]*\()/i;

/** Placeholders and masked values: nothing to hide. */
const PLACEHOLDER =
  /^(?:<[^>]*>?|\[[^\]]*\]?|\{[^}]*\}?|[xX*•#._-]{3,}|.*(?:\.\.\.|…|\*\*\*|xxxx|XXXX).*|your[\w-]*|\w*YOUR_\w*|(?:change[_-]?me\d*|changeit|replace[_-]?me|placeholder|example|dummy|redacted|removed|secret|password|passwd|null|none|nil|undefined|todo|tbd|n\/a)[.!?]?|(?:str|string|int|bool|Optional|SecretStr|Union|Any|char|varchar|text)\b.*)$/i;

// A number with a unit after it is a length or a count ("password: 8 characters").
const UNIT_AFTER =
  /^\s*(?:\+|or more|chars?|characters|digits|letters|symbols|tests?|tokens?|times|days|hours|minutes|mins|seconds|secs|attempts|tries|bytes|bits|位|个|字|次|秒|分|天|条)/i;

export function isReferenceOrPlaceholder(value: string): boolean {
  return REFERENCE.test(value) || PLACEHOLDER.test(value) || /^[~.]?\//.test(value);
}

const classes = (v: string) => [/[a-z]/, /[A-Z]/, /\d/, /[^A-Za-z0-9]/].filter((r) => r.test(v)).length;

type Sep = 'assign' | 'colon' | 'prose' | 'space';

function acceptValue(value: string, sep: Sep, strong: boolean, quoted: boolean, after: string): boolean {
  // `getpass.getpass()`, `config["db"]`: the value was cut at a call or an index, so it is code.
  if (!value || isReferenceOrPlaceholder(value) || UNIT_AFTER.test(after) || (!quoted && /^[([]/.test(after))) return false;
  if (quoted) return value.length >= 3;
  // A bare space after the name ("password Tr0ub4dor!") is also how titles read: ask for a mix.
  if (sep === 'space') return strong && value.length >= 6 && classes(value) >= 3;
  if (sep === 'assign') return value.length >= 3;
  if (/[\d\W_]/u.test(value)) return value.length >= 4;
  if (value.length >= 12) return true;
  return strong && value.length >= 4 && !STATE_WORDS.has(value.toLowerCase());
}

/** A detector over `re` whose named groups are `pre` (kept), `q` (quote), `v` (value) and optionally `sep`/`kw`. */
function keywordDetector(
  name: string,
  label: string,
  what: string,
  re: RegExp,
  accept: (g: Record<string, string | undefined>, after: string) => boolean,
): Detector {
  return {
    name,
    label,
    apply(text) {
      let count = 0;
      const out = text.replace(re, (...args: unknown[]) => {
        const match = args[0] as string;
        const offset = args.at(-3) as number;
        const g = args.at(-1) as Record<string, string | undefined>;
        let value = g.v ?? '';
        // A placeholder may end in dots (`sk-...`): judge it whole before trimming.
        if (isReferenceOrPlaceholder(value)) return match;
        // A sentence's own full stop or question mark is not part of the password ("!" often is).
        if (!g.q) value = value.replace(/[.,?;:)\]]+$/, '');
        if (!value) return match;
        const after = text.slice(offset + match.length - (g.v!.length - value.length));
        if (!accept({ ...g, v: value }, after)) return match;
        count++;
        return `${g.pre}${g.q ?? ''}[${what} removed]${g.v!.slice(value.length)}${g.q ?? ''}`;
      });
      return { text: out, count };
    },
  };
}

// "set PGPASSWORD to …" reads like prose ("password to something longer"): only a mixed value counts.
const sepKind = (sep: string): Sep =>
  /^\s+to\s+$/.test(sep) ? 'space' : /[=＝]|->|=>/.test(sep) ? 'assign' : /[:：–—(（]|\s-\s/.test(sep) ? 'colon' : sep.trim() ? 'prose' : 'space';

// "password for the staging db is", "passwd on the jump box is": up to four words between name and verb.
// The gap is only taken when a real separator follows it, not a bare space.
const GAP = String.raw`(?:\s+(?:for|on|to|of|at|in|into)(?:\s+[\w.@/-]+){1,4}?(?=\s*(?:=|:|：)|\s+(?:is|was|should be|will be)\s))?`;
const EN_SEP = String.raw`\s*(?:=>|->|=|＝|:|：|是|为|為|\(|（)\s*|\s+to\s+|\s+[-–—]\s+|['’]s\s+(?:(?:still|now|just)\s+)?|\s+(?:(?:was|is|has been|got)\s+)?(?:changed|reset|set|updated)\s+to\s+|\s+(?:is|was|is now|are|should be|will be|=)\s+(?:(?:still|now|just|literally|simply)\s+)?|\s+`;
const VALUE = String.raw`(?<q>["'\x60]?)(?<v>(?<=["'\x60])[^"'\x60\n]+|[^\s"'\x60,;，。；、（）()]+)\k<q>`;

const englishPassword = keywordDetector(
  'password',
  'a password',
  'password',
  new RegExp(
    String.raw`(?<pre>(?<![A-Za-z0-9])(?:[A-Za-z0-9]+[_.-])*(?:PG)?(?<kw>${STRONG}|${WEAK})(?![A-Za-z0-9])["']?${GAP}(?<sep>${EN_SEP}))${VALUE}`,
    'giu',
  ),
  (g, after) => {
    const strong = new RegExp(`^(?:[A-Za-z0-9]+[_.-])*(?:${STRONG})$`, 'i').test(g.kw!);
    return acceptValue(g.v!, sepKind(g.sep!), strong, !!g.q, after);
  },
);

/** `login: admin/hunter2`, `creds are root:toor`: the part after the user name. */
const credentialPair = keywordDetector(
  'password',
  'a password',
  'password',
  /(?<pre>\b(?:creds?|credentials|logins?|user\s*\/\s*pass(?:word)?|username\s*\/\s*password)\b\s*(?:[:=]|are|is)\s*[^\s:/]+\s*[:/]\s*)(?<q>)(?<v>[^\s,;]+?)(?=[\s,;]|$)(?<![:：])/giu,
  // A token ending in a colon is the next name ("Login: jdoe / Pass: …"), left to the password rule.
  (g) => g.v!.length >= 3 && !isReferenceOrPlaceholder(g.v!),
);

// Chinese (simplified and traditional): 密码/口令 are passwords; 验证码 and the like are one-time codes.
const ZH_PASSWORD = String.raw`密码|密碼|口令|支付密码|登录密码|开机密码|pin码|PIN码`;
const ZH_CODE = String.raw`验证码|驗證碼|校验码|校驗碼|动态码|動態碼|动态密码|短信码|提取码|取件码|授权码|授權碼`;
// "验证码6位：", "密码是：", "密码＝": a length, a verb and a colon may all come between.
const ZH_SEP = String.raw`(?:\s*[（(]?\d{1,2}\s*位(?:数字)?[）)]?)?\s*(?:(?:(?:就|也|还|都|应该|一直)?(?:是|为|為)|改成了?|改为|换成了?|设成了?|设置为|设为)\s*[：:=＝]?|[：:=＝]\s*(?:是|为)?)?\s*`;
const ZH_VALUE = String.raw`(?<q>["'“‘「]?)(?<v>[\x21-\x7E]+?)(?=[”’」]|[^\x21-\x7E]|$)`;

function zhDetector(name: string, label: string, what: string, words: string, minLength: number): Detector {
  return keywordDetector(name, label, what, new RegExp(String.raw`(?<pre>(?:${words})${ZH_SEP})${ZH_VALUE}`, 'giu'), (g, after) => {
    const v = g.v!.replace(/^["']|["']$/g, '');
    return v.length >= minLength && !isReferenceOrPlaceholder(v) && !UNIT_AFTER.test(after) && !/^(?:\d{1,3}[-~～]\d{1,3})$/.test(v);
  });
}

export const KEYWORD_DETECTORS: Detector[] = [
  zhDetector('password_zh', 'a password', 'password', ZH_PASSWORD, 4),
  // "要密码，我输的 Gh2024pass 不行": the value comes later in the sentence, after "I typed/used".
  keywordDetector(
    'password_zh',
    'a password',
    'password',
    new RegExp(String.raw`(?<pre>(?:${ZH_PASSWORD})[^\x21-\x7E\n]{0,10}?(?:输入的|输的|用的|填的|打的|设的|输了|填了)(?:是|为)?\s*)${ZH_VALUE}`, 'giu'),
    (g) => g.v!.length >= 4 && classes(g.v!) >= 2 && !isReferenceOrPlaceholder(g.v!),
  ),
  zhDetector('verification_code_zh', 'a verification code', 'code', ZH_CODE, 4),
  // "123456是您的验证码", "【银行】384920（动态码）": the code before its name.
  keywordDetector(
    'verification_code_zh',
    'a verification code',
    'code',
    new RegExp(
      String.raw`(?<pre>)(?<q>)(?<v>(?<![\dA-Za-z])\d{4,8})(?=\s*[（(]?\s*(?:是|为|為)?\s*(?:您|你)?的?(?:登录|登錄|注册|註冊|支付|交易|本次)?(?:${ZH_CODE}))`,
      'gu',
    ),
    () => true,
  ),
  credentialPair,
  // "my pin 0931", "PIN: 7720", "the pin is 4821"; not "pin the 2024 roadmap" or "did the pin change in 2023".
  keywordDetector(
    'verification_code',
    'a verification code',
    'code',
    /(?<pre>\bpin(?:\s*(?:code|number|no\.?|#))?\s*(?:is|was|[:=：#-])?\s*)(?<q>)(?<v>\d{4,8})(?![\d.,:]\d|\d)/giu,
    () => true,
  ),
  // "the code is 582914": six digits is what one-time codes are; error and status codes are shorter.
  keywordDetector(
    'verification_code',
    'a verification code',
    'code',
    /(?<pre>\b(?:my|the|your|this|that)\s+(?:[\w-]+\s+){0,2}?code\s*(?:is|was)?\s*[:=]?\s*)(?<q>)(?<v>\d{6}|\d{3}[ -]\d{3})(?![\d.,:]\d|\d)/giu,
    () => true,
  ),
  // `mysql -uroot -pS3cret` (mysql takes the password glued to -p; `-p db` prompts), `sshpass -p …`, `redis-cli -a …`.
  keywordDetector(
    'password',
    'a password',
    'password',
    /(?<pre>\b(?:mysql(?:dump|admin)?\b[^\n]*?\s-p|(?:sshpass\b[^\n]*?\s-p|redis-cli\b[^\n]*?\s-a)\s*))(?<q>["']?)(?<v>[^\s"']+)\k<q>/gu,
    (g) => g.v!.length >= 3 && !isReferenceOrPlaceholder(g.v!),
  ),
  englishPassword,
];
