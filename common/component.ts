/** Lifecycle shared by every component. shutdown() is idempotent and safe without start(). */
export interface Component {
  readonly name: string;
  start(): Promise<void>;
  shutdown(): Promise<void>;
}

/** A pull source. Partial failures come back in `errors`; collect() never throws. */
export interface Collector<S> extends Component {
  collect(): Promise<CollectResult<S>>;
}

/** What one run of a collector produced. */
export interface CollectResult<S> {
  readonly samples: S[];
  readonly errors: Error[];
}
