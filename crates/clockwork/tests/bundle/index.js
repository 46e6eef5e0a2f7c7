// A scheduled trigger as a Forge app writes it, using an npm package.
import { addDays, formatISO, differenceInCalendarDays } from 'date-fns';
import api, { route } from '@forge/api';
import { createHash } from 'node:crypto';

export const trigger = async (event) => {
  const start = new Date(Date.UTC(2025, 2, 30));
  const due = addDays(start, 10);
  const me = await api.asApp().requestJira(route`/rest/api/3/myself`);
  return {
    due: formatISO(due, { representation: 'date' }),
    days: differenceInCalendarDays(due, start),
    site: me.status,
    digest: createHash('sha256').update(event.context.moduleKey).digest('hex').slice(0, 8),
  };
};
