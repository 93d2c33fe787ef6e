import type { Alarm } from '../repository/status-model.ts';
import type { ExposureReport } from './compute-exposure.ts';

/** Overdue KEV entries shown one by one; beyond, one alarm says how many more. */
const overdueShown = 10;

/**
 * The alarms of issue 16: a KEV entry past its due date that still affects endpoints of the
 * scope (critical), and an advisory source whose data is older than `maxAgeHours` (its feed
 * stopped arriving: what the pages show rests on old data).
 */
export function advisoryAlarms(report: ExposureReport, now: Date, maxAgeHours: number): Alarm[] {
  const alarms: Alarm[] = [];
  for (const entry of report.overdueKev.slice(0, overdueShown)) {
    alarms.push({ kind: 'kev-overdue', severity: 'critical', at: `${entry.dueDate}T00:00:00+09:00`, subject: entry.cve, detail: `${entry.endpoints} endpoints (${entry.products.join(', ')}); KEV due ${entry.dueDate}` });
  }
  if (report.overdueKev.length > overdueShown) {
    const rest = report.overdueKev.slice(overdueShown);
    alarms.push({ kind: 'kev-overdue', severity: 'critical', at: null, subject: `+${rest.length}`, detail: `${rest.length} more KEV entries past their due date affect endpoints: ${rest.slice(0, 20).map((entry) => entry.cve).join(', ')}` });
  }
  for (const source of report.sources) {
    const age = (now.getTime() - Date.parse(source.fetchedAt)) / 3_600_000;
    if (!(age <= maxAgeHours)) alarms.push({ kind: 'advisories-stale', severity: 'warning', at: source.fetchedAt, subject: source.source, detail: `fetched ${source.fetchedAt} (${Math.round(age)} h ago; limit ${maxAgeHours} h)` });
  }
  return alarms;
}
