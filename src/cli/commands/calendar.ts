import { importCalendar, showCalendar } from '../../services/calendar.js';
import { int, type CommandSpec } from '../framework.js';
import { table } from './shared.js';

export const calendarCommands: CommandSpec[] = [
  {
    path: ['calendar', 'import'],
    summary:
      'Load China\'s public holidays and make-up working days (config/calendar/<year>.json, or the files/folder given)\n' +
      'into the database; every "working days" rule reads them. A year is replaced as a whole. Files are validated first.',
    positionals: [{ name: 'path', doc: 'a <year>.json file or a folder of them (default config/calendar)', required: false }],
    async run(ctx, args) {
      const r = await importCalendar(ctx.services(), ctx.actor, { path: args.positionals[0] });
      const text = r.map((y) => `${y.year}: ${y.status}, ${y.days} day(s) imported${y.status === 'unconfirmed' ? ' - NOT the official schedule: Monday-Friday count as working days' : ''}`).join('\n');
      return { json: r, text };
    },
  },
  {
    path: ['calendar', 'show'],
    summary: 'Show the working-day calendar of a year as stored: source, holidays, make-up working days.',
    options: [{ name: 'year', type: 'int', doc: 'the year (default this year)' }],
    async run(ctx, args) {
      const r = await showCalendar(ctx.services(), ctx.actor, { year: int(args, 'year', new Date().getFullYear(), 2000, 2100) });
      const head = r.status === 'missing'
        ? `${r.year}: not imported - Monday-Friday count as working days (run softswitch calendar import)`
        : `${r.year}: ${r.status}${r.announcedOn ? `, announced ${r.announcedOn}` : ''}\nsource: ${r.source}${r.note ? `\nnote: ${r.note}` : ''}`;
      return { json: r, text: [head, table(['date', 'working', 'name'], r.days.map((d) => [d.date, d.working ? 'work' : 'off', d.name]))].join('\n') };
    },
  },
];
