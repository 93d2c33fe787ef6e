import type { InventoryHealth } from '../coverage/inventory.ts';
import type { LgwanState } from '../importer/lgwan-state.ts';
import { jsonAnswerOf, type JsonAnswer } from './json-answers.ts';
import { buildStatusUntil, type Alarm, type AlarmThresholds, type DiskReading, type RepositoryStatus } from './status-model.ts';

export interface StatusInputs {
  /**
   * The state as the repository holds it and the count of its writes: the importer changes
   * the object in place and then writes it (one process), or a worker replaces it whole on
   * each re-read. An undefined revision means "unknown": the status is then made per request.
   */
  root: object;
  revision: number | undefined;
  /** The same state as the scope sees it (a tenant's products only). */
  state: LgwanState;
  thresholds: AlarmThresholds;
  disk: DiskReading | undefined;
  heartbeat: { receivedAt: string; latestSequence: number; staleSeconds: number } | undefined;
  inventory: InventoryHealth | undefined;
  advisoryAlarms: readonly Alarm[];
}

export interface StatusAnswer {
  status: RepositoryStatus;
  /** The status serialised once, with its ETag (GET /api/v1/status). */
  json: JsonAnswer;
  /** `{ products }` of the same status (GET /api/v1/products), serialised at its first use. */
  products(): JsonAnswer;
}

interface Kept {
  key: string;
  builtAt: number;
  changesAt: number;
  answer: StatusAnswer;
}

/**
 * The status model of each scope, made when something it shows changes rather than per
 * request (issue 18): a write of the state (a publication, a refusal, a gap), a new probe
 * reading (the disk once a minute, the diode's heartbeat), the inventory's failure, the
 * advisory alarms, or the clock reaching the next deadline the model itself reported (an
 * alarm that starts or turns critical then). Until one of these, every request gets the same
 * object and the same bytes, so `generatedAt` says when the shown figures were computed.
 */
export class StatusAnswers {
  readonly #kept = new Map<string, Kept>();
  readonly #ids = new WeakMap<object, number>();
  #nextId = 1;

  of(scope: string, inputs: StatusInputs, now: Date): StatusAnswer {
    const nowMs = now.getTime();
    const key = this.#keyOf(inputs);
    const kept = this.#kept.get(scope);
    if (key !== undefined && kept && kept.key === key && nowMs >= kept.builtAt && nowMs < kept.changesAt) return kept.answer;
    const { status, changesAt } = buildStatusUntil(inputs.state, now, inputs.thresholds, inputs.disk, inputs.heartbeat, inputs.inventory, inputs.advisoryAlarms);
    let products: JsonAnswer | undefined;
    const answer: StatusAnswer = { status, json: jsonAnswerOf(status), products: () => (products ??= jsonAnswerOf({ products: status.products })) };
    if (key !== undefined) this.#kept.set(scope, { key, builtAt: nowMs, changesAt, answer });
    return answer;
  }

  /** Everything but the clock that the model is made of; undefined when the state's revision is unknown. */
  #keyOf(inputs: StatusInputs): string | undefined {
    if (inputs.revision === undefined) return undefined;
    // The inventory's health counts pending observations on every request; the model shows
    // them only in the alarm of a failing inventory, so only then are they part of the key.
    const inventory = inputs.inventory?.lastError ? inputs.inventory : undefined;
    return JSON.stringify([this.#idOf(inputs.root), inputs.revision, this.#idOf(inputs.thresholds), inputs.disk ?? null, inputs.heartbeat ?? null, inventory ?? null, inputs.advisoryAlarms]);
  }

  #idOf(object: object): number {
    let id = this.#ids.get(object);
    if (id === undefined) this.#ids.set(object, (id = this.#nextId++));
    return id;
  }
}
