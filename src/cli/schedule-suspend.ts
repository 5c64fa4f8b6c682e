import type { BaseCommand } from './base-command.js';
import { instantText, type ScheduleWire } from '../domain/schedule-wire.js';
import { schedulePath } from './schedule-view.js';

/** `schedule suspend` and `schedule resume`: PATCH {suspend}, then the new state (or the view as JSON). */
export async function setSuspended(
  cmd: BaseCommand,
  name: string,
  suspend: boolean,
  json: boolean,
  owner: string | undefined,
): Promise<void> {
  const s = await cmd
    .client()
    .request<ScheduleWire>('PATCH', schedulePath(name), { suspend }, { owner_access_key: owner });
  if (json) return cmd.output.json(s);
  if (s.suspend) cmd.output.line(`Schedule ${s.name} suspended.`);
  else cmd.output.line(`Schedule ${s.name} resumed; next run ${instantText(s.nextRunAt)}.`);
}
