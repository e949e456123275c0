/**
 * The end marker a writer's owner puts last in a log it closes on purpose: `complete` after the whole run, or
 * `interrupted` when a signal stopped the run at an event boundary. A log without it was cut (a killed process,
 * a full disk), so a strict reader can tell the three apart.
 */
import { Type } from './type.js';
import { defineEvent } from './catalogue.js';

export const LOG_END_TYPE = 'log.end';

export const logEndEvent = defineEvent({
  type: LOG_END_TYPE,
  version: 1,
  description: 'The last event of a log closed on purpose: the run completed, or a signal interrupted it at an event boundary (the log then holds a prefix of the run).',
  schema: Type.Object({
    reason: Type.Union([Type.Literal('complete'), Type.Literal('interrupted')]),
    signal: Type.Optional(Type.String()),
  }),
});
