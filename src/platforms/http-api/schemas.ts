import { randomBytes } from 'node:crypto';
import { z } from 'zod';

/**
 * The HTTP API's request and response shapes: one set of zod schemas, declared with the routes
 * (routes.ts), both validates requests and generates the OpenAPI document, so the two cannot
 * drift apart.
 */

/** Opaque ids: a prefix and 22 base64url characters (128 random bits). */
const CONVERSATION_ID = /^c_[A-Za-z0-9_-]{22}$/;
const TASK_ID = /^t_[A-Za-z0-9_-]{22}$/;

export const newConversationId = (): string => `c_${randomBytes(16).toString('base64url')}`;
export const newTaskId = (): string => `t_${randomBytes(16).toString('base64url')}`;
/** End-user ids as `user` in a question allows them. */
const END_USER_ID = /^[A-Za-z0-9._@-]{1,128}$/;

export const conversationIdSchema = z
  .string()
  .regex(CONVERSATION_ID, { message: 'expected a conversation id returned by an earlier answer (c_ and 22 characters)' })
  .meta({
    description: 'Opaque id of a conversation, returned by every answer; send it back to ask a follow-up with the earlier turns as context.',
    examples: ['c_3q2-7wNb5Jm0v1kQd8xY4A'],
  });

/** Profile names as the config file allows them. Whether the profile exists is checked per request. */
const profileNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, { message: 'expected a profile name (letters, digits, - and _)' })
  .meta({ description: 'A profile of the config file to answer with (subject to its routing rules); omitted = chosen by routing.', examples: ['billing'] });

/** The body of `POST /api/v1/ask` and `POST /api/v1/tasks`. The longest question comes from API_MAX_QUESTION_CHARS. */
export function askRequestSchema(maxQuestionChars: number) {
  return z
    .strictObject({
      question: z
        .string({ error: (i) => (i.input === undefined ? 'required' : 'expected a string') })
        .trim()
        .min(1, { message: 'must not be empty' })
        .max(maxQuestionChars, { message: `longer than ${maxQuestionChars} characters` })
        .meta({ description: 'The question, as a user would type it (Markdown allowed).', examples: ['How do I reset my password?'] }),
      conversationId: conversationIdSchema.optional(),
      profile: profileNameSchema.optional(),
      user: z
        .string()
        .regex(END_USER_ID, { message: 'expected up to 128 letters, digits, ., _, @ or -' })
        .optional()
        .meta({
          description: "The end user's id in your system, so per-user guardrails (rate limits, budgets) apply per user; omitted = the key's name.",
          examples: ['customer-4711'],
        }),
    })
    .meta({ description: 'A question, optionally continuing a conversation.' });
}
export type AskRequest = z.output<ReturnType<typeof askRequestSchema>>;

export const citationSchema = z.object({
  id: z.string(),
  title: z.string(),
  location: z.string().meta({ description: 'A link or a path in the knowledge base.' }),
});

export const usageSchema = z
  .object({
    promptTokens: z.number().int().min(0),
    completionTokens: z.number().int().min(0),
    estimated: z
      .boolean()
      .optional()
      .meta({ description: 'True when the server never reported usage (e.g. the stream was cut) and the tokens were counted locally.' }),
  })
  .meta({ description: 'Tokens the model used for this answer (0 when no model was called, e.g. an FAQ answer).' });

export const answerSchema = z.object({
  conversationId: conversationIdSchema,
  text: z.string().meta({ description: 'The exact final answer, Markdown.' }),
  source: z.string().meta({
    description:
      'Where the answer came from: model, faq, knowledge (knowledge-only), declined, error, or a guardrail refusal such as rate_limited or budget_spent.',
    examples: ['model', 'faq', 'knowledge', 'declined'],
  }),
  citations: z.array(citationSchema),
  usage: usageSchema,
  model: z.string().nullable().meta({ description: 'The model that answered; null when none did.' }),
  profile: z.string().meta({ description: 'The profile that answered.' }),
  finishReason: z
    .string()
    .nullable()
    .meta({
      description:
        "The model's finish reason: stop, or length when the answer was cut at the output limit (the text then ends with a note saying so). Null when the model did not finish.",
      examples: ['stop', 'length'],
    }),
  incomplete: z.boolean().meta({ description: 'True when the answer is not whole (cut at the length limit or interrupted); ask to continue to get the rest.' }),
  groundedness: z.number().min(0).max(1).nullable().meta({
    description:
      "Share of the answer's sentences the knowledge-base passages given to the model back (0–1; an invented number counts against it). Null when the model answered without passages, or the answer did not come from the model.",
  }),
});
export type Answer = z.output<typeof answerSchema>;

export const taskStatusSchema = z.enum(['pending', 'running', 'completed', 'failed']);
export type TaskStatus = z.output<typeof taskStatusSchema>;

export const taskFailureSchema = z
  .object({ code: z.string(), message: z.string() })
  .meta({ description: 'Why a task failed (the model failed, or Parley stopped while the task ran).' });

export const taskSchema = z.object({
  id: z.string().regex(TASK_ID),
  status: taskStatusSchema,
  conversationId: conversationIdSchema,
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  answer: answerSchema.optional().meta({ description: 'Present when status is completed.' }),
  error: taskFailureSchema.optional().meta({ description: 'Present when status is failed.' }),
});
export type Task = z.output<typeof taskSchema>;

export const taskAcceptedSchema = z.object({
  id: z
    .string()
    .regex(TASK_ID)
    .meta({ examples: ['t_Jk2b4xQ0p9Zr7yW1nM3cVg'] }),
  status: z.literal('pending'),
  conversationId: conversationIdSchema,
});

export const deletionSchema = z
  .object({
    deleted: z.object({
      conversations: z.number().int().min(0).meta({ description: 'Conversations the messages were taken out of (or that were deleted).' }),
      records: z.number().int().min(0).meta({ description: 'Answer records, comments, tasks and cached answers deleted.' }),
      questionTexts: z.number().int().min(0).meta({ description: 'Question texts dropped from the daily question lists (their counts stay).' }),
      reviewItems: z.number().int().min(0).meta({ description: 'Review-queue items deleted or changed.' }),
      usageRows: z.number().int().min(0).meta({ description: 'Usage-ledger rows deleted.' }),
    }),
  })
  .meta({ description: 'What a deletion removed. Identity-free counts (questions per day, tokens, cost) stay; see docs/privacy.md.' });

/** `GET /tasks/{id}`. */
export const taskParamsSchema = z.object({
  id: z.string().regex(TASK_ID, { message: 'expected a task id returned by POST /api/v1/tasks' }).meta({ description: 'The id POST /tasks answered with.' }),
});

/** `DELETE /users/{user}`. */
export const userParamsSchema = z.object({
  user: z
    .string()
    .regex(END_USER_ID, { message: 'expected the end-user id sent as `user` (letters, digits, ., _, @ or -)' })
    .meta({ description: 'The id sent as `user` with their questions (or the key name, for questions sent without one).' }),
});

/** `DELETE /conversations/{id}`. */
export const conversationParamsSchema = z.object({ id: conversationIdSchema });
